package main

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logLevels are the levels log.level accepts.
var logLevels = map[string]zapcore.Level{
	"debug": zapcore.DebugLevel,
	"info":  zapcore.InfoLevel,
	"warn":  zapcore.WarnLevel,
	"error": zapcore.ErrorLevel,
}

// logTimeLayout is ISO 8601 (RFC 3339) with microseconds: ARI steps take
// about a millisecond, so milliseconds are too coarse to order them.
const logTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// newLogger builds the logger described by c, writing to w (os.Stderr in
// production). The json format uses zap's production encoder (keys ts,
// level, logger, caller, msg, stacktrace); console is zap's development
// encoder without colours. Both print times as ISO 8601 with microseconds
// and durations as strings such as "1.5s".
//
// The logger never samples: every ARI event is logged, even in bursts. Stack
// traces are attached only at DPanic level and above, so an error stays one
// line.
func newLogger(c LogConfig, w zapcore.WriteSyncer) (*zap.Logger, error) {
	level, ok := logLevels[c.Level]
	if !ok {
		return nil, fmt.Errorf("log.level: invalid level %q (want debug, info, warn or error)", c.Level)
	}
	var enc zapcore.Encoder
	switch c.Format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout(logTimeLayout)
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout(logTimeLayout)
		ec.EncodeDuration = zapcore.StringDurationEncoder
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log.format: invalid format %q (want json or console)", c.Format)
	}
	core := zapcore.NewCore(enc, w, zap.NewAtomicLevelAt(level))
	return zap.New(core,
		zap.AddCaller(),
		zap.AddStacktrace(zapcore.DPanicLevel),
		zap.ErrorOutput(w),
	), nil
}
