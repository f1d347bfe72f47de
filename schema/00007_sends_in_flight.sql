-- +goose Up
-- Ingress asks whether a conversation has a send in flight when Meta's echo of it arrives
-- before the send's answer was recorded (issue 12: echoes of our own sends are not
-- signalled). Only the rows of calls in flight are indexed, so the index stays small.
CREATE INDEX delivery_intents_calling ON delivery_intents (account, igsid) WHERE state = 'calling';

-- +goose Down
DROP INDEX delivery_intents_calling;
