// Package api is ariapp's control API: HTTP and JSON in front of package
// app, the equivalent of the SDK's tsdk_hold_call / tsdk_unhold_call and its
// event callbacks.
//
//	GET    /v1/calls                 every live call
//	POST   /v1/calls                 {"from":"PJSIP/alice","to":"PJSIP/bob"}: originate a call
//	GET    /v1/calls/{id}            one call
//	DELETE /v1/calls/{id}            hang it up
//	POST   /v1/calls/{id}/hold       {"party":"caller"|"callee"|CHANNEL_ID}
//	POST   /v1/calls/{id}/unhold     {"party":...}
//	POST   /v1/calls/{id}/mute       {"party":...,"direction":"in"|"out"|"both"}, apart from hold
//	POST   /v1/calls/{id}/unmute     {"party":...,"direction":...}
//	GET    /v1/events[?call_id=ID]   live SPEC events, as Server-Sent Events
//	GET    /v1/calls/{id}/timeline   its recent story
//	GET    /v1/stats                 process, ARI, event and stream counters
//	GET    /v1/openapi.json          this API as OpenAPI 3.1 (openapi.json)
//	GET    /                         the operator console (console/)
//	GET    /healthz                  the process is up
//	GET    /readyz                   ARI is connected
//
// Every error is a JSON body {"error":{"code":"...","message":"..."}} with a
// machine-readable code. Operations answer once they completed in Asterisk,
// with the resulting call info. When a token is configured every /v1
// request needs "Authorization: Bearer TOKEN". The server binds 127.0.0.1 by
// default; the token is never logged.
//
// Event streams are bounded (Config.MaxStreams; beyond it 503 "overloaded"
// with Retry-After), and a client that stalls loses its stream
// (Config.StreamStallTimeout), so neither memory nor the graceful stop
// depends on how clients read.
package api
