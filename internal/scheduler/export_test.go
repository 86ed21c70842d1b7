package scheduler

// MaxSleep is the longest the loop sleeps, for tests that wait for it to go
// to sleep.
const MaxSleep = maxSleep
