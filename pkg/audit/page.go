package audit

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// tokenVersion prefixes every continue token, so that a token of another layout is refused
// instead of misread.
const tokenVersion = "v1:"

// encodeToken makes an opaque continue token of a cursor (the sort key of the last entry
// returned). Tokens carry no secret: they name an entry the caller has already seen.
func encodeToken(cursor string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenVersion + cursor))
}

func decodeToken(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), tokenVersion) {
		return "", fmt.Errorf("continue token %q is not one this server issued: %w", token, ErrInvalidArgument)
	}
	return strings.TrimPrefix(string(raw), tokenVersion), nil
}

// pageIndexed pages a list whose order is its own (an object's references): the cursor is
// the position of the last entry returned.
func pageIndexed[T any](rows []T, p Page) ([]T, string, error) {
	start := 0
	if p.Continue != "" {
		c, err := decodeToken(p.Continue)
		if err != nil {
			return nil, "", err
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("continue token %q is not one this server issued: %w", p.Continue, ErrInvalidArgument)
		}
		start = min(n+1, len(rows))
	}
	rows = rows[start:]
	if p.Limit <= 0 || len(rows) <= p.Limit {
		return rows, "", nil
	}
	return rows[:p.Limit], encodeToken(strconv.Itoa(start + p.Limit - 1)), nil
}
