package packages

import (
	"bytes"
	"path"
	"strings"
	"unicode"
)

// SniffHead is how many first bytes SniffAttachment wants to see.
const SniffHead = 512

// attachmentTypes are the types a data subject may send, each with the
// first bytes every such file starts with and the extensions it may
// carry. The list is short on purpose: documents and photos a phone or a
// scanner makes, none of which a browser or a desktop runs.
var attachmentTypes = []struct {
	ContentType string
	Magic       []byte
	Exts        []string
}{
	{typePDF, []byte("%PDF-"), []string{".pdf"}},
	{typePNG, []byte("\x89PNG\r\n\x1a\n"), []string{".png"}},
	{typeJPEG, []byte("\xff\xd8\xff"), []string{".jpg", ".jpeg"}},
}

// AttachmentKinds names the allowed types for people: "PDF, PNG or JPEG".
const AttachmentKinds = "PDF, PNG or JPEG"

// SniffAttachment decides from a file's first bytes alone whether a data
// subject may send it, and returns the type to record and serve it with.
// The name and the Content-Type the browser sent are never asked: both
// are the sender's word, and a program renamed id.pdf must not pass.
func SniffAttachment(head []byte) (contentType string, ok bool) {
	for _, t := range attachmentTypes {
		if bytes.HasPrefix(head, t.Magic) {
			return t.ContentType, true
		}
	}
	return "", false
}

// AttachmentName is the name a subject's file is shown and downloaded
// under: the client's name without folders, control, format (bidi
// overrides, zero-width) or reserved characters, and ending in an
// extension of the type its content has, so that "invoice.exe" holding a
// PDF is saved as "invoice.exe.pdf" and opens as what it is. It never
// names the file on disk.
func AttachmentName(client, contentType string) string {
	name := strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, client)
	name = cleanName(name)
	for _, t := range attachmentTypes {
		if t.ContentType != contentType {
			continue
		}
		ext := strings.ToLower(path.Ext(name))
		for _, e := range t.Exts {
			if ext == e {
				return name
			}
		}
		return cleanName(name + t.Exts[0])
	}
	return name
}
