package handlers

import "github.com/gin-gonic/gin"

// headToo is the router the route table registers on. It is gin's, except
// that every GET route also answers HEAD, with the same handler chain
// (the group's middleware included). Link checkers (Mailpit's) and
// mail-security gateways probe the links in our mail with HEAD; gin,
// unlike net/http's ServeMux, has no automatic HEAD, so they got 405 and
// reported the verification link as broken.
//
// The handlers need not know: net/http drops the body of an answer to
// HEAD (and still counts it for Content-Length), so status and headers
// are those of the GET. What that asks of every GET handler is what the
// GET already must do: change nothing that a second look would notice.
// Routes registered any other way (Handle, Match, Any) get no HEAD;
// TestHeadLikeGet walks the route list and catches them.
type headToo struct{ gin.IRouter }

// GET registers path for GET and HEAD.
func (r headToo) GET(path string, hs ...gin.HandlerFunc) gin.IRoutes {
	r.IRouter.HEAD(path, hs...)
	return r.IRouter.GET(path, hs...)
}

// Group is gin's Group, whose routes answer HEAD too.
func (r headToo) Group(path string, hs ...gin.HandlerFunc) headToo {
	return headToo{r.IRouter.Group(path, hs...)}
}
