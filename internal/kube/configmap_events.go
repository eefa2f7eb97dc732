package kube

// ReasonInvalidConfig is the reason of the Warning Event recorded on the watched ConfigMap when
// its config is refused.
const ReasonInvalidConfig = "InvalidConfig"

// RecordRefused records a Warning Event on the ConfigMap version last handed over (the one
// refused) that its config was refused, with the problems. Where RBAC forbids events nothing
// happens beyond a debug log: the log line and the metric are the record.
func (c *ConfigMap) RecordRefused(rec EventRecorder, problems string) {
	ref := c.seen.Load()
	if rec == nil || ref == nil {
		return
	}
	rec.Warn(*ref, ReasonInvalidConfig,
		"betterauthz refused "+ConfigKey+" (the last good config, if any, stays in force): "+truncate(problems, 900))
}
