package temporalx

import (
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/internal/codec"
)

// PayloadCodec is the encrypting codec of the configuration: PAYLOAD_ENCRYPTION_KEY (and
// its old keys) when set, else the payload-codec sub-keys of TOKEN_ENCRYPTION_KEY and
// TOKEN_ENCRYPTION_OLD_KEYS.
func PayloadCodec(cfg *config.Config) (*codec.Codec, error) {
	master, err := cfg.KeyRing()
	if err != nil {
		return nil, err
	}
	separate, err := cfg.PayloadKeyRing()
	if err != nil {
		return nil, err
	}
	ring, err := codec.KeyRing(master, separate)
	if err != nil {
		return nil, err
	}
	return codec.New(ring)
}

// Converters returns the data converter (payloads encrypted) and the failure converter
// (error messages and stack traces moved into an encrypted payload too: an activity's
// error can quote what it was working on) every client of the bridge uses.
func Converters(cfg *config.Config) (converter.DataConverter, converter.FailureConverter, error) {
	c, err := PayloadCodec(cfg)
	if err != nil {
		return nil, nil, err
	}
	dc := codec.DataConverter(c)
	fc := temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true,
	})
	return dc, fc, nil
}
