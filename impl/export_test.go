package impl

import "github.com/mcpwarden/mcpwarden/db"

// IssueAccessTokenForTest lets external tests mint a token for a user they inserted directly.
func (s *Server) IssueAccessTokenForTest(u db.UserAuth) (string, error) { return s.issueAccessToken(u) }
