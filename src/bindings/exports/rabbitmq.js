// The publish `rabbitmqPublish` and `rabbitmqUndelay` hand to amqplib, built in one call
// across the boundary: setting its eight properties from Rust cost a round trip and a fresh
// key string each, ≈ 14 µs of a confirmed publish's ≈ 85 µs on our side (bench/notes.md).

/** `{ message, exchange, routingKey, body, options }`, `options` being amqplib's publish
 * options (`priority` only when set). */
export function publication(message, exchange, routingKey, body, deliveryMode, priority, mandatory) {
  const options = priority === undefined ? { deliveryMode, mandatory } : { deliveryMode, priority, mandatory };
  return { message, exchange, routingKey, body, options };
}
