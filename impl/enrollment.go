package impl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

func (s *Server) ListEnrollmentSecrets(ctx context.Context, request gen.ListEnrollmentSecretsRequestObject) (gen.ListEnrollmentSecretsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	page, size := pageOf(request.Params.Page, request.Params.PageSize)
	secrets, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.EnrollmentSecret, int64, error) {
		return st.ListEnrollmentSecrets(ctx, p.OrgID, int(size), int(page-1)*int(size))
	})
	if err != nil {
		return nil, err
	}
	items := make([]gen.EnrollmentSecret, len(secrets))
	for i, e := range secrets {
		items[i] = s.enrollmentSecretView(e)
	}
	return gen.ListEnrollmentSecrets200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}

func (s *Server) CreateEnrollmentSecret(ctx context.Context, request gen.CreateEnrollmentSecretRequestObject) (gen.CreateEnrollmentSecretResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return gen.CreateEnrollmentSecret400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, []gen.FieldError{{Field: "expires_at", Message: "is not in the future"}})}, nil
	}
	secret, hash := security.NewOrgToken(security.EnrollmentSecretPrefix, p.OrgID)
	e, err := s.store.CreateEnrollmentSecret(ctx, p.OrgID, in.Name, hash, secretHint(security.EnrollmentSecretPrefix, secret), in.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return gen.CreateEnrollmentSecret201JSONResponse(withSecret(s.enrollmentSecretView(e), secret)), nil
}

func (s *Server) RevokeEnrollmentSecret(ctx context.Context, request gen.RevokeEnrollmentSecretRequestObject) (gen.RevokeEnrollmentSecretResponseObject, error) {
	err := s.store.RevokeEnrollmentSecret(ctx, httpapi.PrincipalFrom(ctx).OrgID, request.EnrollmentId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.RevokeEnrollmentSecret404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.RevokeEnrollmentSecret204Response{}, nil
}

func (s *Server) RotateEnrollmentSecret(ctx context.Context, request gen.RotateEnrollmentSecretRequestObject) (gen.RotateEnrollmentSecretResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	secret, hash := security.NewOrgToken(security.EnrollmentSecretPrefix, p.OrgID)
	e, err := s.store.RotateEnrollmentSecret(ctx, p.OrgID, request.EnrollmentId, hash, secretHint(security.EnrollmentSecretPrefix, secret))
	if errors.Is(err, db.ErrNotFound) {
		return gen.RotateEnrollmentSecret404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.RotateEnrollmentSecret200JSONResponse(withSecret(s.enrollmentSecretView(e), secret)), nil
}

// EnrollAgent gives a machine presenting an enrolment secret its own agent key: the agent it
// enrolled before (with a new key) or a new one. Failed enrolments count toward a per-address
// throttle; successful ones do not, so a whole office behind one address can enrol at once.
func (s *Server) EnrollAgent(ctx context.Context, request gen.EnrollAgentRequestObject) (gen.EnrollAgentResponseObject, error) {
	in := request.Body
	bad := gen.EnrollAgent401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: unauthorized(ctx,
		"The enrolment secret is unknown, revoked or expired; ask your administrator for the current one.")}
	attempt := s.guard.Throttle.Enroll(httpapi.ClientIPFrom(ctx))
	if wait, err := s.guard.Throttle.Begin(ctx, s.now(), attempt); err != nil || wait > 0 {
		return nil, throttled(wait, err)
	}
	var secret string
	if in.EnrollmentSecret != nil {
		secret = *in.EnrollmentSecret
	}
	orgID, hash, ok := security.ParseOrgToken(security.EnrollmentSecretPrefix, secret)
	if !ok {
		return bad, nil
	}
	name := in.Hostname
	if in.Name != nil {
		name = *in.Name
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	meta := db.AgentMeta{Hostname: &in.Hostname, Username: in.Username, AgentVersion: in.AgentVersion}
	if in.OsType != nil {
		os := string(*in.OsType)
		meta.OSType = &os
	}
	key := apikey.New()
	a, created, replaced, err := s.store.Enroll(ctx, orgID, db.Enrolment{
		SecretHash: hash, MachineID: in.MachineId, Name: name, Meta: meta, KeyHash: apikey.Hash(key), KeyPrefix: apikey.DisplayPrefix(key),
	}, s.opts.MaxAgentsPerOrg)
	switch {
	case errors.Is(err, db.ErrBadEnrollmentSecret):
		return bad, nil
	case errors.Is(err, db.ErrAgentLimit):
		s.uncount(ctx, attempt)
		return gen.EnrollAgent409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: gen.ConflictApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusConflict, fmt.Sprintf("The organization has %d agents, as many as this server allows (MCPWARDEN_MAX_AGENTS_PER_ORG); ask your administrator to delete one.", s.opts.MaxAgentsPerOrg)))}, nil
	case err != nil:
		s.uncount(ctx, attempt)
		return nil, err
	}
	s.uncount(ctx, attempt)
	if replaced != nil {
		s.ingest.KeyReplaced(replaced, a.ID)
	}
	view := agentWithKey(s.agentView(a), key)
	if created {
		return gen.EnrollAgent201JSONResponse(view), nil
	}
	return gen.EnrollAgent200JSONResponse(view), nil
}

// secretHint tells secrets (enrolment secrets, API tokens) apart without revealing them: their
// kind and last four characters (their start is the organization, the same for all of them).
func secretHint(prefix, secret string) string {
	return prefix + "…" + secret[len(secret)-4:]
}

func (s *Server) enrollmentSecretView(e db.EnrollmentSecret) gen.EnrollmentSecret {
	status := gen.SecretActive
	switch {
	case e.RevokedAt != nil:
		status = gen.SecretRevoked
	case e.ExpiresAt != nil && !e.ExpiresAt.After(s.now()):
		status = gen.SecretExpired
	}
	return gen.EnrollmentSecret{
		Id: e.ID, Name: e.Name, SecretPrefix: e.Prefix, Status: status, ExpiresAt: utc(e.ExpiresAt), RevokedAt: utc(e.RevokedAt),
		Uses: e.Uses, LastUsedAt: utc(e.LastUsedAt), CreatedAt: e.CreatedAt.UTC(),
	}
}

func withSecret(e gen.EnrollmentSecret, secret string) gen.EnrollmentSecretWithSecret {
	return gen.EnrollmentSecretWithSecret{
		Id: e.Id, Name: e.Name, SecretPrefix: e.SecretPrefix, Status: e.Status, ExpiresAt: e.ExpiresAt, RevokedAt: e.RevokedAt,
		Uses: e.Uses, LastUsedAt: e.LastUsedAt, CreatedAt: e.CreatedAt, Secret: secret,
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
