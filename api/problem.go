package api

// Problem is an RFC 9457 problem details object. Every error the HTTP API
// returns is one, with Content-Type application/problem+json; the server
// writes it and the client reads it (server.Problem and client.Problem are
// aliases of this type).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Hint tells a user what to do next; an RFC 9457 extension member.
	Hint string `json:"hint,omitempty"`
}

// ProblemTypeBase prefixes the type URI of every Charter problem. The
// pages it names are the sections of docs/spec/http-api.md.
const ProblemTypeBase = "https://charter.dev/problems/"
