// Package state is the agent's per-app decision logic, with no I/O: given
// the controller's [protocol.Decision] for one app, the installed version,
// the sensed device state, the device-local time zone, the current time and
// what happened on earlier attempts, [Evaluate] says what to do now (nothing,
// wait, install, prompt, or give up) and when to look again; [PromptNow]
// says whether an app's update prompt should show now.
//
// The rules follow the modes of DESIGN.md:
//
//   - default: install only when every required constraint holds
//     (unmetered network, charging, idle, app not in the foreground; a
//     decision's Constraints may lift some by leaving them false) and the
//     local time is inside the maintenance window, if one is set. Windows
//     are "HH:MM" local times, the start inclusive and the end exclusive;
//     an end before the start wraps midnight and equal ends mean all day.
//     Whatever the constraints say, an app in the foreground is never
//     replaced under default rules: a silent install would kill it under
//     the user's hands.
//   - highPriority: install at once, with no constraints and no window.
//   - postponed (or any decision with notBefore): wait until notBefore
//     (POSTPONED), ignoring the window, then follow default rules.
//   - prompt and force: nothing happens silently; the app asks through the
//     local prompt API and the user's "update" starts the install at once.
//
// A failed attempt is retried with exponential backoff; after
// [DefaultRetryBudget] failures for the same decision and target the app is
// FAILED with the last reason until the controller changes the decision.
//
// Only the agent imports this package.
package state
