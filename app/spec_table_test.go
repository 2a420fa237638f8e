package app_test

import (
	"testing"

	"github.com/ariapp/ariapp/internal/labtest"
)

// specRules is the SPEC rule table: each rule test runs against every
// backend, as TestSpec/<backend>/<rule>.
var specRules = []struct {
	name string
	run  func(t *testing.T, be backend)
}{
	{"CallSetUp", specCallSetUp},
	{"CalleeFailures", specCalleeFailures},
	{"H1HoldOnlyWhenEstablished", specH1HoldOnlyWhenEstablished},
	{"H2H3H4HoldByEitherParty", specH2H3H4HoldByEitherParty},
	{"H2PhoneHoldKey", specH2PhoneHoldKey},
	{"H5HoldRefusedByPolicy", specH5HoldRefusedByPolicy},
	{"H5HoldLimit", specH5HoldLimit},
	{"H5FailedHoldIsRolledBack", specH5FailedHoldIsRolledBack},
	{"H5FailedRemoveChangesNothing", specH5FailedRemoveChangesNothing},
	{"H5PeerHangsUpDuringHold", specH5PeerHangsUpDuringHold},
	{"LateEventConfirmedByAsking", specLateEventConfirmedByAsking},
	{"H5FailedStepRollsBack", specH5FailedStepRollsBack},
	{"R1OnlyTheHolderResumes", specR1OnlyTheHolderResumes},
	{"R2Resume", specR2Resume},
	{"R2StopRetried", specR2StopRetried},
	{"R3FailedResumeHangsUp", specR3FailedResumeHangsUp},
	{"R3FailedStepHangsUp", specR3FailedStepHangsUp},
	{"M1M2MutualHold", specM1M2MutualHold},
	{"HangupInEveryState", specHangupInEveryState},
	{"HoldMusicModes", specHoldMusicModes},
	{"HoldMediaPerHold", specHoldMediaPerHold},
	{"HoldAnnouncement", specHoldAnnouncement},
	{"HoldMediaDefaultForPhoneAndDTMF", specHoldMediaDefaultForPhoneAndDTMF},
	{"Interference", specInterference},
	{"DTMFHoldResume", specDTMFHoldResume},
	{"DTMFOffByDefault", specDTMFOffByDefault},
	{"RestartRebuildsCalls", specRestartRebuildsCalls},
	{"RestartFindsHoldsInAsterisk", specRestartFindsHoldsInAsterisk},
	{"RestartWhileCalleeRings", specRestartWhileCalleeRings},
	{"RestartKeepsHoldOrder", specRestartKeepsHoldOrder},
	{"RestartKeepsHoldMedia", specRestartKeepsHoldMedia},
	{"RestartAfterMOHAnnouncement", specRestartAfterMOHAnnouncement},
	{"SweepRemovesWhatNoCallOwns", specSweepRemovesWhatNoCallOwns},
	{"OriginateRefusals", specOriginateRefusals},
	{"SlowAsterisk", specSlowAsterisk},
	{"ReconnectResync", specReconnectResync},
	{"ReconnectStartsMissedCall", specReconnectStartsMissedCall},
	{"TimingOfReplies", specTimingOfReplies},
	{"FiftyCycles", specFiftyCycles},
	{"TwentyConcurrentCalls", specTwentyConcurrentCalls},
	{"RaceHoldAgainstHangup", specRaceHoldAgainstHangup},
	{"RaceResumeAgainstHangup", specRaceResumeAgainstHangup},
	{"RaceBothHoldAtOnce", specRaceBothHoldAtOnce},
	{"HoldMaxResume", specHoldMaxResume},
	{"HoldMaxHangup", specHoldMaxHangup},
	{"HoldReminder", specHoldReminder},
	{"HoldTimersMutualHold", specHoldTimersMutualHold},
	{"HoldTimersStopWithResumeAndHangup", specHoldTimersStopWithResumeAndHangup},
	{"RestartKeepsHoldTimers", specRestartKeepsHoldTimers},
	{"RestartEndsOverdueHold", specRestartEndsOverdueHold},
	{"RestartRecordsHoldStart", specRestartRecordsHoldStart},
	{"MuteApartFromHold", specMuteApartFromHold},
	{"MuteFailureChangesNothing", specMuteFailureChangesNothing},
	{"RestartKeepsMute", specRestartKeepsMute},
}

// TestSpec runs the SPEC rule table against the in-process fake Asterisk
// (always, in seconds) and against the lab (skipped when the lab does not
// answer, failed in CI: labtest.Require).
func TestSpec(t *testing.T) {
	for _, be := range []backend{newFakeBackend(), newOldFakeBackend(), labBackend{}} {
		t.Run(be.name(), func(t *testing.T) {
			if be.name() == "lab" {
				labtest.Require(t)
			}
			for _, r := range specRules {
				t.Run(r.name, func(t *testing.T) { r.run(t, be) })
			}
		})
	}
}
