package profile

import "time"

// recordT, recordStaleT and rescoreT run record, recordStale and rescore with the decision
// layer's defaults (recordStale's clock is the event's time).
func recordT(p *Profile, ev Event, eng Evaluator, now time.Time, load signalLoader) (*Assessment, error) {
	a, _, err := record(p, ev, eng, now, load, DefaultDecideOptions())
	return a, err
}

func recordStaleT(p *Profile, cur SessionState, ev Event, eng Evaluator, load signalLoader) (bool, error) {
	changed, _, err := recordStale(p, cur, ev, eng, load, DefaultDecideOptions(), ev.EventTime)
	return changed, err
}

func rescoreT(p *Profile, before Profile, profileID string, eng Evaluator, now time.Time, load signalLoader) (*Assessment, RescoreOutcome, error) {
	a, _, o, err := rescore(p, before, profileID, eng, now, load, DefaultDecideOptions())
	return a, o, err
}
