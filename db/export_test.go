package db

// ReportBatchStatements are the statements a report batch runs after its BEGIN, by name.
var ReportBatchStatements = map[string]string{
	"lock agents":      lockAgentsSQL,
	"previous servers": previousServersSQL,
	"apply reports":    applyReportsSQL,
}
