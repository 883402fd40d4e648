package codec_test

import (
	"loopmq/codec"
	"loopmq/codec/codectest"
)

func parse(b []byte, v codec.Version) (any, error) { return codectest.Parse(b, v) }
