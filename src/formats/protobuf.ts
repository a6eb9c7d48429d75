/**
 * Protocol buffers for the format adapters (SavedModel, TF checkpoints): a schema given as `.proto`
 * text, parsed by protobufjs on first use — most commands never decode a protocol buffer.
 */
import type protobuf from 'protobufjs'
import { createRequire } from 'node:module'

/** A message type, resolved when first decoded. */
export interface MessageType { readonly name: string, type?: protobuf.Type }

/**
 * A decoder for the messages of one schema: decoded messages as plain objects, int64 as numbers (bounds
 * are checked by the callers), enums as numbers, every field present (`objects`: empty maps too).
 */
export function protoDecoder (schema: string, options: { objects?: boolean } = {}): (message: MessageType, bytes: Uint8Array) => Record<string, unknown> {
  let root: protobuf.Root | undefined
  const lookup = (name: string): protobuf.Type => {
    if (root === undefined) {
      const pb = createRequire(import.meta.url)('protobufjs') as typeof protobuf
      root = pb.parse(schema, { keepCase: true }).root
    }
    return root.lookupType(name)
  }
  return (message, bytes) => {
    const type = message.type ?? (message.type = lookup(message.name))
    return type.toObject(type.decode(bytes), { longs: Number, enums: Number, defaults: true, arrays: true, oneofs: true, ...(options.objects === true ? { objects: true } : {}) })
  }
}
