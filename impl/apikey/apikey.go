// Package apikey generates and checks agent API keys.
//
// A key is "mcp_sk_", 43 base62 characters encoding 32 random bytes, and 6 base62 characters of
// CRC-32 over everything before them. The checksum lets the server refuse a mistyped or forged
// key without a database query and lets secret scanners recognise a leaked key without false
// positives; the 256 random bits are what make it unguessable. Only the SHA-256 of a key is
// stored: keys have full entropy, so a fast hash is as safe as a slow one and costs nothing on
// the hot path.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
)

// Prefix starts every key.
const Prefix = "mcp_sk_"

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretBytes = 32
	secretLen   = 43 // base62 digits needed for 2^256
	checksumLen = 6  // base62 digits needed for 2^32
	// Len is the length of every key.
	Len = len(Prefix) + secretLen + checksumLen
	// displayLen is how much of a key is shown to tell keys apart: the prefix and four characters
	// (24 bits), too few to help guess the rest.
	displayLen = len(Prefix) + 4
)

// New returns a fresh random key.
func New() string {
	b := make([]byte, secretBytes)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	body := Prefix + encode(new(big.Int).SetBytes(b), secretLen)
	return body + checksum(body)
}

// Valid reports whether key has the shape of a key and a correct checksum. It does not say that
// the key exists.
func Valid(key string) bool {
	if len(key) != Len || key[:len(Prefix)] != Prefix {
		return false
	}
	for i := len(Prefix); i < Len; i++ {
		if !isBase62(key[i]) {
			return false
		}
	}
	body := key[:Len-checksumLen]
	return checksum(body) == key[Len-checksumLen:]
}

// Hash is what the database stores and looks keys up by.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// DisplayPrefix is the start of the key shown in listings.
func DisplayPrefix(key string) string {
	if len(key) < displayLen {
		return key
	}
	return key[:displayLen]
}

func checksum(body string) string {
	return encode(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body)))), checksumLen)
}

// encode writes n in base62, left-padded with zeros to width digits.
func encode(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = alphabet[mod.Int64()]
	}
	return string(out)
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
