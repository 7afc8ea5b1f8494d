package service

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed common_passwords.txt
var commonPasswordList string

// commonSet is built on first use, not in init(), and never changes.
var commonSet = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, line := range strings.Split(commonPasswordList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			set[line] = true
		}
	}
	return set
})

// commonPassword reports whether p is a listed common password, also when
// it only adds capitals or a tail of digits and punctuation
// ("Password123!"), or repeats one character.
func commonPassword(p string) bool {
	l := strings.ToLower(p)
	if l == "" {
		return true
	}
	if commonSet()[l] || commonSet()[strings.TrimRight(l, "0123456789!@#$%^&*.?-_ ")] {
		return true
	}
	return strings.Count(l, l[:1]) == len(l)
}
