package db

// ReportBatchStatements are the statements a report batch runs after its BEGIN, by name.
// ReportBatchSettings are the planner settings of a report batch.
const ReportBatchSettings = reportBatchSettings

var ReportBatchStatements = map[string]string{
	"lock agents":      lockAgentsSQL,
	"previous servers": previousServersSQL,
	"apply reports":    applyReportsSQL,
}
