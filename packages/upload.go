package packages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrUploadType refuses a file staff tried to add to a package: its type
// is not one the subject can safely open, or its content does not match
// its name. The wrapping error says why, in words fit for staff.
var ErrUploadType = errors.New("packages: file type not allowed")

// Types a staff file may have, by the extension of its name.
const (
	typePDF  = "application/pdf"
	typeText = "text/plain; charset=utf-8"
	typeCSV  = "text/csv"
	typePNG  = "image/png"
	typeJPEG = "image/jpeg"
	typeJSON = "application/json"
)

var typeByExt = map[string]string{
	".pdf": typePDF, ".txt": typeText, ".csv": typeCSV, ".png": typePNG,
	".jpg": typeJPEG, ".jpeg": typeJPEG, ".json": typeJSON,
}

// CheckUpload decides from a file's name, its first bytes (head) and its
// size whether staff may add it to a package, and returns the content
// type to store and serve it with. The name's extension chooses the type
// and the content must agree with it, so nothing that a browser or the
// subject's computer would run (HTML, SVG, scripts, executables,
// archives) passes under an innocent name. Give the whole file as head
// when it is text: UTF-8 and JSON are checked on what head holds, and
// JSON fully only when head is the whole file.
func CheckUpload(name string, head []byte, size int64) (contentType string, err error) {
	if size <= 0 || len(head) == 0 {
		return "", fmt.Errorf("%w: the file is empty", ErrUploadType)
	}
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/")))
	want, ok := typeByExt[ext]
	if !ok {
		return "", fmt.Errorf("%w: %q is not a PDF, text, CSV, JSON, PNG or JPEG file name", ErrUploadType, name)
	}
	sniffed := http.DetectContentType(head[:min(len(head), 512)])
	whole := int64(len(head)) >= size
	switch want {
	case typePDF:
		ok = sniffed == typePDF && bytes.HasPrefix(head, []byte("%PDF-"))
	case typePNG, typeJPEG:
		ok = sniffed == want
	case typeText, typeCSV:
		ok = isText(head, sniffed, whole)
	case typeJSON:
		ok = isText(head, sniffed, whole) && looksJSON(head, whole)
	}
	if !ok {
		return "", fmt.Errorf("%w: the content of %q is not what its name says (%s)", ErrUploadType, name, ext)
	}
	return want, nil
}

// isText accepts UTF-8 text without binary control characters that does
// not open like markup, which a browser might render as a page.
func isText(head []byte, sniffed string, whole bool) bool {
	if sniffed != typeText {
		return false // HTML, XML, UTF-16, binary…
	}
	b := head
	if !whole {
		b = trimPartialRune(b)
	}
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			return false
		}
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n\f")
	if len(t) > 1 && t[0] == '<' {
		c := t[1] | 0x20
		if c >= 'a' && c <= 'z' || t[1] == '!' || t[1] == '?' {
			return false // <svg, <html, <!doctype, <?xml, …
		}
	}
	return true
}

// trimPartialRune drops a UTF-8 sequence cut off at the end of head.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

// looksJSON checks the whole document when it has it, else that it opens
// like one.
func looksJSON(head []byte, whole bool) bool {
	if whole {
		return json.Valid(head)
	}
	t := bytes.TrimLeft(head, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}
