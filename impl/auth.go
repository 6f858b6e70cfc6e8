package impl

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

// apiUser is the only way a user leaves the server: it copies the public fields, so the
// password hash and token state cannot leak into a response.
func apiUser(u db.User) gen.User {
	return gen.User{
		Id:             u.ID,
		Email:          gen.Email(u.Email),
		FullName:       u.FullName,
		Role:           gen.Role(u.Role),
		OrganizationId: u.OrganizationID,
		IsActive:       u.PasswordHash.Valid,
		CreatedAt:      u.CreatedAt,
	}
}

func apiOrganization(o db.Organization) gen.Organization {
	out := gen.Organization{Id: o.ID, Name: o.Name, CreatedAt: o.CreatedAt}
	if o.AlertEmail != nil {
		e := gen.Email(*o.AlertEmail)
		out.AlertEmail = &e
	}
	return out
}

// tokenPair issues an access token for the login session (refresh-token family) and returns
// it with the session's refresh token.
func (s *Server) tokenPair(u db.UserAuth, session uuid.UUID, refresh string) (gen.TokenPair, error) {
	access, err := s.signer.Issue(security.Access{UserID: u.ID, OrgID: u.OrganizationID, Role: u.Role, Version: u.TokenVersion, SessionID: session}, s.now())
	if err != nil {
		return gen.TokenPair{}, err
	}
	expiresIn := int32(security.AccessTokenTTL / time.Second)
	return gen.TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: gen.Bearer, ExpiresIn: &expiresIn}, nil
}

func (s *Server) RegisterUser(ctx context.Context, request gen.RegisterUserRequestObject) (gen.RegisterUserResponseObject, error) {
	in := request.Body
	if s.opts.RegistrationClosed {
		return gen.RegisterUser403ApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusForbidden, "This server does not register new organizations (MCPWARDEN_REGISTRATION=closed); ask an administrator of your organization for an invitation.")), nil
	}
	attempt := s.guard.Throttle.Register(httpapi.ClientIPFrom(ctx))
	if wait, err := s.guard.Throttle.Begin(ctx, s.now(), attempt); err != nil || wait > 0 {
		return nil, throttled(wait, err)
	}
	if errs := passwordProblems("password", in.Password, string(in.Email), in.OrganizationName); len(errs) > 0 {
		return gen.RegisterUser400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, errs)}, nil
	}
	hash, err := s.guard.Hasher.Hash(ctx, in.Password)
	if err != nil {
		s.uncount(ctx, attempt) // busy: nothing was attempted
		return nil, err
	}
	u, err := s.store.CreateOrganization(ctx, uuid.New(), in.OrganizationName, db.NewUser{
		ID: uuid.New(), Email: string(in.Email), FullName: in.FullName, Role: string(gen.Admin), PasswordHash: hash,
	})
	if errors.Is(err, db.ErrEmailTaken) {
		return gen.RegisterUser409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: gen.ConflictApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusConflict, "An account with this email already exists."))}, nil
	}
	if err != nil {
		s.uncount(ctx, attempt) // an outage: nothing was created
		return nil, err
	}
	s.markChanged(ctx, u.OrganizationID, u.ID)
	return gen.RegisterUser201JSONResponse(apiUser(u)), nil
}

// badCredentials is the one answer to an unknown email, a wrong password and an account
// without a password yet, so that none can be told apart.
const badCredentials = "Incorrect email or password."

func (s *Server) Login(ctx context.Context, request gen.LoginRequestObject) (gen.LoginResponseObject, error) {
	in := request.Body
	signIn := s.guard.Throttle.SignIn(in.Username, httpapi.ClientIPFrom(ctx))
	if wait, err := s.guard.Throttle.Begin(ctx, s.now(), signIn.All()...); err != nil || wait > 0 {
		return nil, throttled(wait, err)
	}
	u, err := s.store.UserByEmail(ctx, in.Username)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		// An outage: the attempt was not judged, so it does not count.
		s.uncount(ctx, signIn.All()...)
		return nil, err
	}
	// u.PasswordHash is empty for an unknown email or an invited member: Verify then checks
	// against the dummy hash, which takes as long and never matches.
	ok, rehash, err := s.guard.Hasher.Verify(ctx, u.PasswordHash.String, in.Password)
	if err != nil {
		// Busy or cancelled: the attempt was not judged, so it does not count as a failure.
		s.uncount(ctx, signIn.All()...)
		return nil, err
	}
	if !ok {
		if u.ID != uuid.Nil { // an unknown email belongs to no organization's log
			s.record(ctx, u.OrganizationID, db.AuditEvent{Action: "user.sign_in_failed", TargetType: "user", TargetID: u.ID.String(),
				Summary: map[string]any{"email": u.Email}})
		}
		return gen.Login401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: gen.UnauthorizedApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusUnauthorized, badCredentials))}, nil
	}
	s.succeeded(ctx, signIn)
	s.record(db.WithActor(ctx, db.Actor{Type: "user", ID: u.ID, UserID: u.ID, IP: httpapi.ClientIPFrom(ctx)}), u.OrganizationID,
		db.AuditEvent{Action: "user.signed_in", TargetType: "user", TargetID: u.ID.String(), Summary: map[string]any{"email": u.Email}})
	if rehash {
		s.rehash(ctx, u, in.Password)
	}
	refresh, hash := security.NewOrgToken(security.RefreshTokenPrefix, u.OrganizationID)
	session := uuid.New()
	err = s.store.CreateRefreshToken(ctx, u.OrganizationID, db.RefreshToken{
		ID: uuid.New(), UserID: u.ID, FamilyID: session, Hash: hash, ExpiresAt: s.now().Add(security.RefreshTokenTTL),
	})
	if err != nil {
		return nil, err
	}
	pair, err := s.tokenPair(u.Auth(), session, refresh)
	if err != nil {
		return nil, err
	}
	return gen.Login200JSONResponse(pair), nil
}

// checkPassword checks a signed-in user's current password, under the sign-in throttle: a stolen
// access token must not become a way around it. It returns a 429 error past the throttle.
func (s *Server) checkPassword(ctx context.Context, u db.User, password string) (bool, error) {
	signIn := s.guard.Throttle.SignIn(u.Email, httpapi.ClientIPFrom(ctx))
	if wait, err := s.guard.Throttle.Begin(ctx, s.now(), signIn.All()...); err != nil || wait > 0 {
		return false, throttled(wait, err)
	}
	ok, _, err := s.guard.Hasher.Verify(ctx, u.PasswordHash.String, password)
	if err != nil {
		s.uncount(ctx, signIn.All()...)
		return false, err
	}
	if ok {
		s.succeeded(ctx, signIn)
	}
	return ok, nil
}

// record writes an audit event that goes with no other change (a sign-in); failing to is logged,
// not fatal, like the rest of the request's bookkeeping.
func (s *Server) record(ctx context.Context, orgID uuid.UUID, ev db.AuditEvent) {
	if err := s.store.RecordEvent(context.WithoutCancel(ctx), orgID, ev); err != nil {
		s.log.Warn("could not record an audit event", "action", ev.Action, "error", err)
	}
}

// throttled is the answer to a throttle that refused (wait > 0) or could not count (err).
func throttled(wait time.Duration, err error) error {
	if err != nil {
		return err
	}
	return httpapi.TooManyRequests(wait)
}

// uncount takes back attempts that were not judged. It runs even when the request was
// cancelled; if the database is unreachable the attempt stays counted, which costs its owner
// one attempt of a window, never a lockout.
func (s *Server) uncount(ctx context.Context, attempts ...security.Attempt) {
	if err := s.guard.Throttle.Refund(context.WithoutCancel(ctx), attempts...); err != nil {
		s.log.Warn("could not take back a sign-in attempt", "error", err)
	}
}

// succeeded ends the account's run of failures (from this address and from anywhere) and takes
// back the address's attempt: a right password is not a guess.
func (s *Server) succeeded(ctx context.Context, signIn security.SignIn) {
	ctx = context.WithoutCancel(ctx)
	if err := s.guard.Throttle.Forget(ctx, signIn.Pair, signIn.Account); err != nil {
		s.log.Warn("could not clear sign-in failures", "error", err)
	}
	s.uncount(ctx, signIn.Client)
}

// rehash upgrades a hash made under older argon2id parameters. Failing to do so is logged, not
// fatal: the old hash still verifies.
func (s *Server) rehash(ctx context.Context, u db.User, password string) {
	hash, err := s.guard.Hasher.Hash(ctx, password)
	if err == nil {
		err = s.store.RehashPassword(ctx, u.OrganizationID, u.ID, u.PasswordHash.String, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", slog.String("request_id", httpapi.RequestIDFrom(ctx)), slog.Any("error", err))
	}
}

func (s *Server) RefreshTokens(ctx context.Context, request gen.RefreshTokensRequestObject) (gen.RefreshTokensResponseObject, error) {
	unauthorized := gen.RefreshTokens401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: gen.UnauthorizedApplicationProblemPlusJSONResponse(
		httpapi.NewProblem(ctx, http.StatusUnauthorized, "The refresh token is invalid, expired or revoked; log in again."))}
	orgID, oldHash, ok := security.ParseOrgToken(security.RefreshTokenPrefix, request.Body.RefreshToken)
	if !ok {
		return unauthorized, nil
	}
	refresh, hash := security.NewOrgToken(security.RefreshTokenPrefix, orgID)
	u, session, err := s.store.RotateRefreshToken(ctx, orgID, oldHash, db.RefreshToken{ID: uuid.New(), Hash: hash, ExpiresAt: s.now().Add(security.RefreshTokenTTL)})
	switch {
	case errors.Is(err, db.ErrTokenReused):
		// Either a client raced itself or someone replayed a stolen token; both end the login.
		s.log.WarnContext(ctx, "refresh token reused; its login is revoked",
			slog.String("request_id", httpapi.RequestIDFrom(ctx)), slog.String("organization_id", orgID.String()))
		return unauthorized, nil
	case errors.Is(err, db.ErrNotFound):
		return unauthorized, nil
	case err != nil:
		return nil, err
	}
	pair, err := s.tokenPair(u, session, refresh)
	if err != nil {
		return nil, err
	}
	return gen.RefreshTokens200JSONResponse(pair), nil
}

func (s *Server) Logout(ctx context.Context, request gen.LogoutRequestObject) (gen.LogoutResponseObject, error) {
	if orgID, hash, ok := security.ParseOrgToken(security.RefreshTokenPrefix, request.Body.RefreshToken); ok {
		if err := s.store.RevokeRefreshFamily(ctx, orgID, hash); err != nil {
			return nil, err
		}
	}
	return gen.Logout204Response{}, nil
}

func (s *Server) GetCurrentUser(ctx context.Context, request gen.GetCurrentUserRequestObject) (gen.GetCurrentUserResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	u, err := s.store.UserByID(ctx, p.OrgID, p.UserID)
	if errors.Is(err, db.ErrNotFound) { // removed since authentication
		return gen.GetCurrentUser401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: gen.UnauthorizedApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusUnauthorized, "Could not validate credentials."))}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetCurrentUser200JSONResponse(apiUser(u)), nil
}

func (s *Server) UpdateCurrentUser(ctx context.Context, request gen.UpdateCurrentUserRequestObject) (gen.UpdateCurrentUserResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	var email *string
	if in.Email != nil {
		e := string(*in.Email)
		email = &e
	}
	if in.CurrentPassword != nil || (email != nil && s.opts.EmailChangeRequiresPassword) {
		current, err := s.store.UserByID(ctx, p.OrgID, p.UserID)
		if err != nil {
			return nil, err
		}
		changesEmail := email != nil && !strings.EqualFold(*email, current.Email)
		if in.CurrentPassword == nil && changesEmail {
			return gen.UpdateCurrentUser400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, []gen.FieldError{{Field: "current_password", Message: "is required to change the email address"}})}, nil
		}
		if in.CurrentPassword != nil {
			ok, err := s.checkPassword(ctx, current, *in.CurrentPassword)
			if err != nil {
				return nil, err
			}
			if !ok {
				return gen.UpdateCurrentUser400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, []gen.FieldError{{Field: "current_password", Message: "is not your current password"}})}, nil
			}
		}
	}
	u, err := s.store.UpdateProfile(ctx, p.OrgID, p.UserID, in.FullName, email)
	switch {
	case errors.Is(err, db.ErrEmailTaken):
		return gen.UpdateCurrentUser409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: gen.ConflictApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusConflict, "An account with this email already exists."))}, nil
	case errors.Is(err, db.ErrNotFound):
		return gen.UpdateCurrentUser401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: gen.UnauthorizedApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusUnauthorized, "Could not validate credentials."))}, nil
	case err != nil:
		return nil, err
	}
	return gen.UpdateCurrentUser200JSONResponse(apiUser(u)), nil
}

func (s *Server) ChangePassword(ctx context.Context, request gen.ChangePasswordRequestObject) (gen.ChangePasswordResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	u, err := s.store.UserByID(ctx, p.OrgID, p.UserID)
	if err != nil {
		return nil, err
	}
	org, err := s.store.OrganizationByID(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	ok, err := s.checkPassword(ctx, u, in.CurrentPassword)
	if err != nil {
		return nil, err
	}
	if !ok {
		// 400, not 401: the access token is fine, and clients treat 401 as "log in again".
		return gen.ChangePassword400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, []gen.FieldError{{Field: "current_password", Message: "is not your current password"}})}, nil
	}
	if errs := passwordProblems("new_password", in.NewPassword, u.Email, org.Name); len(errs) > 0 {
		return gen.ChangePassword400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, errs)}, nil
	}
	hash, err := s.guard.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return nil, err
	}
	err = s.store.ChangePassword(ctx, p.OrgID, p.UserID, u.PasswordHash.String, hash)
	if errors.Is(err, db.ErrConflict) {
		return gen.ChangePassword400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, []gen.FieldError{{Field: "current_password", Message: "the password was changed by another request meanwhile; try again"}})}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.ChangePassword204Response{}, nil
}

func (s *Server) GetOrganization(ctx context.Context, request gen.GetOrganizationRequestObject) (gen.GetOrganizationResponseObject, error) {
	o, err := s.store.OrganizationByID(ctx, httpapi.PrincipalFrom(ctx).OrgID)
	if err != nil {
		return nil, err
	}
	return gen.GetOrganization200JSONResponse(apiOrganization(o)), nil
}

func (s *Server) UpdateOrganization(ctx context.Context, request gen.UpdateOrganizationRequestObject) (gen.UpdateOrganizationResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	up := db.OrganizationUpdate{Name: in.Name}
	// alert_email has three states: absent keeps it, null clears it, a value sets it.
	if in.AlertEmail.IsSpecified() {
		up.SetAlertEmail = true
		if !in.AlertEmail.IsNull() {
			e := in.AlertEmail.MustGet()
			up.AlertEmail = &e
		}
	}
	o, err := s.store.UpdateOrganization(ctx, p.OrgID, up)
	if err != nil {
		return nil, err
	}
	return gen.UpdateOrganization200JSONResponse(apiOrganization(o)), nil
}
