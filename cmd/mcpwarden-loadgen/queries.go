package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// query is one dashboard or list request an administrator's browser makes.
type query struct {
	name string
	do   func(ctx context.Context, c mcpwarden.ClientInterface) (*http.Response, error)
}

// queryList is every filter of GET /mcp/servers alone and in combination, with search, on page 1
// and page 1,000, and the dashboard's three queries.
func queryList(agentID mcpwarden.AgentId, search string) []query {
	level := func(l string) *mcpwarden.RiskLevel { v := mcpwarden.RiskLevel(l); return &v }
	status := func(s string) *mcpwarden.ServerStatus { v := mcpwarden.ServerStatus(s); return &v }
	byName := mcpwarden.Name
	filters := []struct {
		name string
		p    mcpwarden.ListServersParams
	}{
		{"all", mcpwarden.ListServersParams{}},
		{"risk_level=critical", mcpwarden.ListServersParams{RiskLevel: level("critical")}},
		{"risk_level=low", mcpwarden.ListServersParams{RiskLevel: level("low")}},
		{"status=active", mcpwarden.ListServersParams{Status: status("active")}},
		{"status=dormant", mcpwarden.ListServersParams{Status: status("dormant")}},
		{"agent_id", mcpwarden.ListServersParams{AgentId: &agentID}},
		{"search", mcpwarden.ListServersParams{Search: &search}},
		{"risk_level=high+status=active", mcpwarden.ListServersParams{RiskLevel: level("high"), Status: status("active")}},
		{"status=active+search", mcpwarden.ListServersParams{Status: status("active"), Search: &search}},
		{"risk_level=critical+search", mcpwarden.ListServersParams{RiskLevel: level("critical"), Search: &search}},
		{"agent_id+status=active", mcpwarden.ListServersParams{AgentId: &agentID, Status: status("active")}},
		{"agent_id+risk_level=high+search", mcpwarden.ListServersParams{AgentId: &agentID, RiskLevel: level("high"), Search: &search}},
		{"risk_level=medium+status=active+search", mcpwarden.ListServersParams{RiskLevel: level("medium"), Status: status("active"), Search: &search}},
		{"sort=name", mcpwarden.ListServersParams{Sort: &byName}},
		{"risk_level=critical+sort=name", mcpwarden.ListServersParams{RiskLevel: level("critical"), Sort: &byName}},
		{"search+sort=name", mcpwarden.ListServersParams{Search: &search, Sort: &byName}},
	}
	var qs []query
	for _, f := range filters {
		for _, page := range []int32{1, 1000} {
			p := f.p
			p.Page, p.PageSize = &page, ptr[int32](25)
			qs = append(qs, query{
				name: fmt.Sprintf("servers %s page=%d", f.name, page),
				do: func(ctx context.Context, c mcpwarden.ClientInterface) (*http.Response, error) {
					return c.ListServers(ctx, &p)
				},
			})
		}
	}
	return append(qs,
		query{"dashboard/stats", func(ctx context.Context, c mcpwarden.ClientInterface) (*http.Response, error) {
			return c.GetDashboardStats(ctx)
		}},
		query{"dashboard/risk-distribution", func(ctx context.Context, c mcpwarden.ClientInterface) (*http.Response, error) {
			return c.GetRiskDistribution(ctx)
		}},
		query{"dashboard/top-risks", func(ctx context.Context, c mcpwarden.ClientInterface) (*http.Response, error) {
			return c.GetTopRisks(ctx, nil)
		}},
		query{"dashboard/top-risks limit=50", func(ctx context.Context, c mcpwarden.ClientInterface) (*http.Response, error) {
			return c.GetTopRisks(ctx, &mcpwarden.GetTopRisksParams{Limit: ptr[int32](50)})
		}},
	)
}

// runQueries logs in as an existing user and times each query in turn, one request at a time, so
// each latency is the query's own.
func runQueries(ctx context.Context, o options) (*results, error) {
	if o.email == "" {
		return nil, errors.New("--mode queries needs --email and --password of an existing user")
	}
	hc := httpClient(4, o.timeout)
	sdk, err := newSDK(o.url, hc)
	if err != nil {
		return nil, err
	}
	lr, err := sdk.LoginWithFormdataBodyWithResponse(ctx, mcpwarden.LoginForm{Username: o.email, Password: o.password})
	if err != nil {
		return nil, err
	}
	if lr.JSON200 == nil {
		return nil, fmt.Errorf("login %s: HTTP %d: %s", o.email, lr.StatusCode(), strings.TrimSpace(string(lr.Body)))
	}
	c, err := newSDK(o.url, hc, bearer(lr.JSON200.AccessToken))
	if err != nil {
		return nil, err
	}
	ar, err := c.ListAgentsWithResponse(ctx, &mcpwarden.ListAgentsParams{PageSize: ptr[int32](1)})
	if err != nil {
		return nil, err
	}
	if ar.JSON200 == nil || len(ar.JSON200.Items) == 0 {
		return nil, fmt.Errorf("GET /agents/: HTTP %d, no agent to filter by", ar.StatusCode())
	}
	agentID := ar.JSON200.Items[0].Id
	fmt.Fprintf(os.Stderr, "%d agents in the organization; filtering by agent %s and search %q\n", ar.JSON200.Total, agentID, o.search)

	wanted := map[string]bool{}
	for _, n := range strings.Split(o.queries, ",") {
		if n = strings.TrimSpace(n); n != "" {
			wanted[n] = true
		}
	}
	res := &results{Mode: "queries", URL: o.url, Concurrency: 1}
	start := time.Now()
	for _, q := range queryList(agentID, o.search) {
		if len(wanted) > 0 && !wanted[q.name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		r := timeQuery(ctx, c.ClientInterface, q, o)
		fmt.Fprintf(os.Stderr, "  %-55s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%d requests, %d errors, %d items)\n",
			q.name, r.P50Ms, r.P99Ms, r.MaxMs, r.Requests, r.Errors, r.Items)
		res.Endpoints = append(res.Endpoints, r)
		res.Requests += r.Requests
		res.Errors += r.Errors
	}
	res.ElapsedS = time.Since(start).Seconds()
	res.RPS = float64(res.Requests) / res.ElapsedS
	return res, nil
}

func timeQuery(ctx context.Context, c mcpwarden.ClientInterface, q query, o options) endpointResult {
	var (
		h  histogram
		st = &epStats{status: map[int]uint64{}}
	)
	items := -1
	send := func(timed bool) {
		t0 := time.Now()
		resp, err := q.do(ctx, c)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		d := time.Since(t0)
		if !timed {
			if err == nil && items < 0 {
				items = countItems(body)
			}
			return
		}
		h.record(d)
		if err != nil {
			st.transport++
			return
		}
		st.status[resp.StatusCode]++
	}
	for range 3 { // warm the connection, the plan cache and the page cache
		send(false)
	}
	start := time.Now()
	for i := 0; i < o.queryRequests && time.Since(start) < o.queryBudget && ctx.Err() == nil; i++ {
		send(true)
	}
	r := summarize(q.name, &h, st, time.Since(start))
	r.Items = max(items, 0)
	return r
}

// countItems is the length of the response's items (or of the array it is).
func countItems(body []byte) int {
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if json.Unmarshal(body, &page) == nil && page.Items != nil {
		return len(page.Items)
	}
	var arr []json.RawMessage
	if json.Unmarshal(body, &arr) == nil {
		return len(arr)
	}
	return 0
}
