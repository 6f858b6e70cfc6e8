package apitest

import (
	"context"
	"net/http"
	"testing"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// RegisterAndLogin registers an organization and its admin through the real API, logs in and
// returns the token pair; any other answer fails the test.
func (e *Env) RegisterAndLogin(t testing.TB, email, password, org string) (access, refresh string) {
	t.Helper()
	ctx := context.Background()
	reg, err := e.Anonymous().RegisterUserWithResponse(ctx, mcpwarden.RegisterUserJSONRequestBody{
		Email: mcpwarden.Email(email), Password: password, FullName: "Test Admin", OrganizationName: org,
	})
	if err != nil {
		t.Fatal(err)
	}
	if reg.StatusCode() != http.StatusCreated {
		t.Fatalf("register %s: %d %s", email, reg.StatusCode(), reg.Body)
	}
	return e.Login(t, email, password)
}

// Login logs in through the real API and returns the token pair; any other answer fails the test.
func (e *Env) Login(t testing.TB, email, password string) (access, refresh string) {
	t.Helper()
	resp, err := e.Anonymous().LoginWithFormdataBodyWithResponse(context.Background(), mcpwarden.LoginFormdataRequestBody{Username: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
		t.Fatalf("login %s: %d %s", email, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.AccessToken, resp.JSON200.RefreshToken
}
