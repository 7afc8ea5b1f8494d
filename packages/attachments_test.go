package packages

import "testing"

// TestSniffAttachment protects the allow-list: types are known by their
// first bytes only, so programs and markup fail whatever they are called.
func TestSniffAttachment(t *testing.T) {
	for _, c := range []struct {
		head string
		want string
	}{
		{"%PDF-1.7\n", typePDF},
		{"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", typePNG},
		{"\xff\xd8\xff\xe0\x00\x10JFIF", typeJPEG},
		{"MZ\x90\x00", ""},            // a Windows program
		{"\x7fELF\x02\x01\x01", ""},   // a Linux program
		{"#!/bin/sh\n", ""},           // a script
		{"<svg onload=alert(1)>", ""}, // markup
		{"<html><body>", ""},
		{" %PDF-1.7", ""}, // not at the start
		{"PK\x03\x04", ""},
		{"", ""},
	} {
		got, ok := SniffAttachment([]byte(c.head))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%q: %q %v, want %q", c.head, got, ok, c.want)
		}
	}
}

// TestAttachmentName protects the shown name: no folders, no markup or
// control characters, no bidi tricks, and the extension of the content.
func TestAttachmentName(t *testing.T) {
	for _, c := range []struct{ in, ctype, want string }{
		{"id.pdf", typePDF, "id.pdf"},
		{"Scan.JPEG", typeJPEG, "Scan.JPEG"},
		{"../../etc/passwd", typePDF, "passwd.pdf"},
		{`C:\Users\me\id.png`, typePNG, "id.png"},
		{"<img src=x onerror=alert(1)>.pdf", typePDF, "_img src=x onerror=alert(1)_.pdf"},
		{"invoice.exe", typePDF, "invoice.exe.pdf"},
		{"evil\u202egpj.exe", typeJPEG, "evilgpj.exe.jpg"},
		{"a\x00b\r\nc.pdf", typePDF, "a_b__c.pdf"},
		{"", typePNG, "file.png"},
		{".hidden.png", typePNG, "hidden.png"},
	} {
		if got := AttachmentName(c.in, c.ctype); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}
