package httpapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/routers"
)

// Text the database cannot store, or that no client means, is refused at the edge for every
// string the API accepts (query parameters, JSON bodies, forms), with a 400 naming the field:
// PostgreSQL refuses NUL in text, and invalid UTF-8 would be stored as something else than was
// sent. The common case costs a search for `\u0000` and a UTF-8 check of the raw bytes; only a
// suspect body is decoded to name the field.

var nulEscape = []byte(`\u0000`)

// badText says what is wrong with s, or "" when nothing is.
func badText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

// checkQuery refuses query parameters the operation does not declare (a misspelled filter would
// otherwise be ignored, and the answer would look filtered) and values that are bad text.
func checkQuery(req *http.Request, route *routers.Route) error {
	if req.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return FieldProblem("query", "is not a valid query string")
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if route.Operation.Parameters.GetByInAndName("query", name) == nil && route.PathItem.Parameters.GetByInAndName("query", name) == nil {
			return FieldProblem(name, "is not a parameter of this operation")
		}
	}
	return badValues(q)
}

// badValues is the problem with the first value that is bad text, by name, or nil.
func badValues(values url.Values) error {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		for _, v := range values[name] {
			if msg := badText(v); msg != "" {
				return FieldProblem(name, msg)
			}
		}
	}
	return nil
}

// checkBodyText refuses bad text in a JSON or form body, naming the field.
func checkBodyText(req *http.Request, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	media, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch media {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil // the validator names the problem
		}
		return badValues(form)
	case "application/json":
		if !bytes.Contains(body, nulEscape) && utf8.Valid(body) {
			return nil
		}
		if field, msg := badJSONText(json.RawMessage(body), nil); msg != "" {
			if field == "" {
				field = "body"
			}
			return FieldProblem(field, msg)
		}
	}
	return nil
}

// badJSONText finds the first string of a JSON value that is bad text, and its path (members and
// indexes joined with dots, as the validator names fields). Malformed JSON is left to the
// validator.
func badJSONText(raw json.RawMessage, path []string) (string, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", ""
	}
	switch raw[0] {
	case '{':
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", ""
		}
		for _, name := range slices.Sorted(maps.Keys(members)) {
			if field, msg := badJSONText(members[name], append(path, name)); msg != "" {
				return field, msg
			}
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", ""
		}
		for i, item := range items {
			if field, msg := badJSONText(item, append(path, strconv.Itoa(i))); msg != "" {
				return field, msg
			}
		}
	case '"':
		// Invalid UTF-8 is seen in the raw bytes: decoding would replace it.
		if !utf8.Valid(raw) {
			return strings.Join(path, "."), "is not valid UTF-8"
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && strings.IndexByte(s, 0) >= 0 {
			return strings.Join(path, "."), "contains a NUL character"
		}
	}
	return "", ""
}

// oneJSONValue refuses a JSON body with anything but white space after its value, which the
// validator's decoder would ignore (and the handler with it).
func oneJSONValue(req *http.Request, body []byte) error {
	media, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if media != "application/json" || len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return nil // malformed: the validator names the problem
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return FieldProblem("body", "has data after its JSON value; send exactly one JSON value")
	}
	return nil
}
