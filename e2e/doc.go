// Package e2e holds ariapp's end-to-end tests: real SIP phones
// (internal/sipphone, with RTP audio) calling each other through the lab
// Asterisk and ariapp, holding and resuming from the phone (re-INVITE),
// the control API and DTMF, with the audio each phone receives analysed and
// the API's event stream checked. It has no code outside its tests.
package e2e
