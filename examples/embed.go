package examples

import "embed"

// FS holds the example manifests, so that a binary (`sluice demo`)
// carries them: fleet/ (groups, one policy per behaviour, assignments,
// the busiest-day rule), releases/, devices/ and postponement/, under
// those paths.
//
//go:embed fleet/*.yaml fleet/*.rego releases/*.yaml devices/*.yaml postponement
var FS embed.FS
