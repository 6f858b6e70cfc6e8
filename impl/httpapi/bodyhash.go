package httpapi

import (
	"context"
	"crypto/sha256"
)

// rawBodyPrefix starts every raw body hash, so the digest cannot be confused with a hash of
// the same bytes taken for another purpose.
const rawBodyPrefix = "raw-report/v1\x00"

type rawBodyHashKey struct{}

// sumRawBody is SHA-256 of rawBodyPrefix followed by the body exactly as received.
func sumRawBody(body []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(rawBodyPrefix))
	h.Write(body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func withRawBodyHash(ctx context.Context, sum [sha256.Size]byte) context.Context {
	return context.WithValue(ctx, rawBodyHashKey{}, sum)
}

// RawBodyHash returns SHA-256("raw-report/v1\x00" + request body as received), computed by the
// validation middleware, which reads the body anyway. It is nil when the body was not read
// there: validation is disabled, or the operation takes no body.
func RawBodyHash(ctx context.Context) []byte {
	sum, ok := ctx.Value(rawBodyHashKey{}).([sha256.Size]byte)
	if !ok {
		return nil
	}
	return sum[:]
}

// RawBodyHashOf is RawBodyHash's hash of body, for a handler whose body the middleware did not
// hash.
func RawBodyHashOf(body []byte) []byte {
	sum := sumRawBody(body)
	return sum[:]
}
