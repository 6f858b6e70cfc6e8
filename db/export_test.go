package db

import "context"

// Test hooks on the report queue (see reportQueue).

// HoldReports keeps reports waiting, as if every batch slot were taken, until the returned
// function is called; the reports then form batches from the queue as it is.
func (s *Storage) HoldReports() (release func()) {
	q := &s.reports
	q.mu.Lock()
	q.running += maxRunningBatches
	q.mu.Unlock()
	return func() {
		q.mu.Lock()
		q.running -= maxRunningBatches
		q.startLocked(context.Background(), s)
		q.mu.Unlock()
	}
}

// WaitingReports is how many reports wait for a batch.
func (s *Storage) WaitingReports() int {
	s.reports.mu.Lock()
	defer s.reports.mu.Unlock()
	return len(s.reports.waiting)
}

// ReportBatches is how many batches have started.
func (s *Storage) ReportBatches() int64 {
	s.reports.mu.Lock()
	defer s.reports.mu.Unlock()
	return s.reports.batches
}

// ReportBatchStatements are the statements a report batch runs after its BEGIN, by name.
var ReportBatchStatements = map[string]string{
	"lock agents":      lockAgentsSQL,
	"previous servers": previousServersSQL,
	"apply reports":    applyReportsSQL,
}
