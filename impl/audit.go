package impl

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
)

// ListAuditEvents pages through the audit log, newest first, by cursor: the page's last event,
// so that events recorded meanwhile neither repeat nor shift the next page.
func (s *Server) ListAuditEvents(ctx context.Context, request gen.ListAuditEventsRequestObject) (gen.ListAuditEventsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Params
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	f := db.AuditFilter{ActorID: in.ActorId, Action: in.Action, TargetID: in.TargetId, Since: in.Since, Until: in.Until, Limit: limit + 1}
	if in.Cursor != nil {
		at, id, ok := parseAuditCursor(*in.Cursor)
		if !ok {
			return gen.ListAuditEvents400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx,
				[]gen.FieldError{{Field: "cursor", Message: "is not a cursor this server gave out"}})}, nil
		}
		f.AfterAt, f.AfterID = &at, &id
	}
	events, err := readOne(ctx, s, func(st *db.Storage) ([]db.AuditRecord, error) { return st.ListAuditEvents(ctx, p.OrgID, f) })
	if err != nil {
		return nil, err
	}
	var next *string
	if len(events) > limit {
		events = events[:limit]
		last := events[limit-1]
		c := auditCursor(last.At, last.ID)
		next = &c
	}
	items := make([]gen.AuditEvent, len(events))
	for i, e := range events {
		if items[i], err = auditView(e); err != nil {
			return nil, err
		}
	}
	return gen.ListAuditEvents200JSONResponse{Items: items, NextCursor: next}, nil
}

func auditView(e db.AuditRecord) (gen.AuditEvent, error) {
	var summary map[string]any
	if err := json.Unmarshal(e.Summary, &summary); err != nil {
		return gen.AuditEvent{}, err
	}
	return gen.AuditEvent{
		Id: e.ID, At: e.At.UTC(), ActorType: gen.AuditEventActorType(e.ActorType), ActorId: e.ActorID, ActorUserId: e.ActorUserID,
		SourceIp: e.SourceIP, Action: e.Action, TargetType: e.TargetType, TargetId: e.TargetID, Summary: summary,
	}, nil
}

// ExportAuditEvents streams every event the list would show for the same filters, newest first.
func (s *Server) ExportAuditEvents(ctx context.Context, request gen.ExportAuditEventsRequestObject) (gen.ExportAuditEventsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Params
	f := db.AuditFilter{ActorID: in.ActorId, Action: in.Action, TargetID: in.TargetId, Since: in.Since, Until: in.Until}
	if in.Format == "ndjson" {
		return gen.ExportAuditEvents200ApplicationxNdjsonResponse{Body: s.readStream(ctx, func(st *db.Storage, w io.Writer) error {
			enc := json.NewEncoder(w)
			return st.EachAuditEvent(ctx, p.OrgID, f, func(e db.AuditRecord) error {
				v, err := auditView(e)
				if err != nil {
					return err
				}
				return enc.Encode(v)
			})
		})}, nil
	}
	return gen.ExportAuditEvents200TextcsvResponse{Body: s.readStream(ctx, func(st *db.Storage, w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"id", "at", "actor_type", "actor_id", "actor_user_id", "source_ip", "action", "target_type", "target_id", "summary"}); err != nil {
			return err
		}
		err := st.EachAuditEvent(ctx, p.OrgID, f, func(e db.AuditRecord) error {
			return csvRow(cw, e.ID.String(), csvTime(&e.At), e.ActorType, csvUUID(e.ActorID), csvUUID(e.ActorUserID),
				csvString(e.SourceIP), e.Action, e.TargetType, csvString(e.TargetID), string(e.Summary))
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		return err
	})}, nil
}

// auditCursor encodes an event's time (microseconds, PostgreSQL's precision) and id.
func auditCursor(at time.Time, id uuid.UUID) string {
	b := make([]byte, 8, 24)
	binary.BigEndian.PutUint64(b, uint64(at.UnixMicro()))
	return base64.RawURLEncoding.EncodeToString(append(b, id[:]...))
}

func parseAuditCursor(c string) (time.Time, uuid.UUID, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 24 {
		return time.Time{}, uuid.Nil, false
	}
	id, err := uuid.FromBytes(b[8:])
	if err != nil {
		return time.Time{}, uuid.Nil, false
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))), id, true
}
