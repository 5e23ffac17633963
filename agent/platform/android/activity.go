package android

import (
	"regexp"
)

// resumedRe matches the resumed-activity lines of "dumpsys activity
// activities" across releases:
//
//	mResumedActivity: ActivityRecord{1e44eb8 u0 com.xtc.watch/.view.Home t653}   (up to Android 9)
//	ResumedActivity: ActivityRecord{...}                                       (Android 10+)
//	topResumedActivity=ActivityRecord{...}                                     (Android 10+)
//	mFocusedActivity: ActivityRecord{...}                                      (Android 7 and older)
var resumedRe = regexp.MustCompile(`(?m)(?:topResumedActivity=|ResumedActivity: |mFocusedActivity: )ActivityRecord\{[0-9a-f]+ (?:u\d+ )?([A-Za-z0-9_.]+)/`)

// parseForeground returns the package of the resumed activity, or "" when
// none is resumed.
func parseForeground(out []byte) string {
	m := resumedRe.FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}
