package packages

import (
	"errors"
	"strings"
	"testing"
)

var (
	pdfHead  = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	pngHead  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	jpegHead = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
)

func check(name string, content []byte) (string, error) {
	return CheckUpload(name, content, int64(len(content)))
}

// Allowed files whose content matches their name are accepted with the type to store.
func TestCheckUploadAccepts(t *testing.T) {
	cases := []struct {
		name    string
		content []byte
		want    string
	}{
		{"letter.pdf", pdfHead, "application/pdf"},
		{"Scan.PDF", pdfHead, "application/pdf"},
		{"photo.png", pngHead, "image/png"},
		{"photo.jpg", jpegHead, "image/jpeg"},
		{"photo.jpeg", jpegHead, "image/jpeg"},
		{"notes.txt", []byte("Grüße aus Köln – 1 < 2\r\nzweite Zeile\n"), "text/plain; charset=utf-8"},
		{"export.csv", []byte("name,city\r\nZoë,Zürich\r\n"), "text/csv"},
		{"data.json", []byte(`{"name": "Zoë", "tags": [1, 2]}`), "application/json"},
	}
	for _, c := range cases {
		got, err := check(c.name, c.content)
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

// Markup, executables, archives, invalid text, mismatched names and empty files are refused with ErrUploadType.
func TestCheckUploadRefuses(t *testing.T) {
	cases := []struct {
		what, name string
		content    []byte
	}{
		{"HTML disguised as PDF", "invoice.pdf", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")},
		{"HTML as text", "notes.txt", []byte("<html><body onload=alert(1)>")},
		{"HTML file", "page.html", []byte("<html></html>")},
		{"Windows executable", "setup.exe", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00")},
		{"executable named PDF", "setup.pdf", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00")},
		{"SVG file", "logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)},
		{"SVG as text", "logo.txt", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
		{"XML SVG as text", "logo.txt", []byte(`<?xml version="1.0"?><svg/>`)},
		{"ZIP archive", "data.zip", []byte("PK\x03\x04\x14\x00\x00\x00")},
		{"ZIP named CSV", "data.csv", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")},
		{"invalid UTF-8 text", "notes.txt", []byte("caf\xe9 au lait\n")},
		{"UTF-16 text", "notes.txt", []byte("\xff\xfeh\x00i\x00")},
		{"binary as text", "notes.txt", []byte("abc\x00\x01\x02def")},
		{"PNG named PDF", "image.pdf", pngHead},
		{"JPEG named PNG", "image.png", jpegHead},
		{"PDF named text", "letter.txt", pdfHead},
		{"invalid JSON", "data.json", []byte(`{"a": 1,`)},
		{"no extension", "README", []byte("hello")},
		{"empty", "empty.txt", []byte{}},
	}
	for _, c := range cases {
		if got, err := check(c.name, c.content); !errors.Is(err, ErrUploadType) {
			t.Errorf("%s accepted as %q (err %v)", c.what, got, err)
		}
	}
	if _, err := CheckUpload("a.txt", []byte("x"), 0); !errors.Is(err, ErrUploadType) {
		t.Error("size 0 accepted")
	}
}

// When head is only the start of a large text file, a multi-byte character cut at its end is not mistaken for invalid UTF-8.
func TestCheckUploadPartialHead(t *testing.T) {
	text := []byte(strings.Repeat("ü", 300)) // 600 bytes
	if _, err := CheckUpload("long.txt", text[:511], 10000); err != nil {
		t.Fatalf("cut rune refused: %v", err)
	}
	if _, err := CheckUpload("long.txt", text[:511], 511); err == nil {
		t.Fatal("a whole file ending in half a character accepted")
	}
	if _, err := CheckUpload("big.json", []byte(`[{"a": 1}, {"b":`), 10000); err != nil {
		t.Fatalf("start of a large JSON file refused: %v", err)
	}
}
