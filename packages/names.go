package packages

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxNameBytes = 120

// staffNames gives each staff file a safe, distinct name inside files/:
// the base name only, no characters that archive tools or Windows treat
// specially, no leading dot (no hidden files), and "name (2).ext" for a
// repeat, compared without case as Windows and macOS do.
func staffNames(files []File) []string {
	names := make([]string, len(files))
	used := map[string]bool{}
	for i, f := range files {
		name := cleanName(f.Name)
		ext := path.Ext(name)
		stem := strings.TrimSuffix(name, ext)
		for k := 2; used[strings.ToLower(name)]; k++ {
			name = fmt.Sprintf("%s (%d)%s", stem, k, ext)
		}
		used[strings.ToLower(name)] = true
		names[i] = name
	}
	return names
}

func cleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"|?*`, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if len(name) > maxNameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := name[:maxNameBytes-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		name = stem + ext
	}
	if name == "" {
		return "file"
	}
	return name
}
