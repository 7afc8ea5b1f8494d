// Package templates holds every page, mail and static file of the portal,
// embedded into the binary. It imports nothing of ours: it is data.
package templates

import "embed"

// FS holds pages/*.html (html/template, each page with pages/layout.html),
// mail/* (per kind: .subject.txt and .txt with text/template, .html with
// html/template inside mail/layout.html), static/* (served as is) and
// i18n/*.yaml (one message catalog per language, see package i18n).
//
//go:embed pages mail static package i18n
var FS embed.FS
