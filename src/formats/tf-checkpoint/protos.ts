/**
 * The protocol buffer messages of a tensor bundle, declared with only the fields mvc reads (field
 * numbers and types as in tensorflow/core/protobuf/tensor_bundle.proto, trackable_object_graph.proto,
 * tensorflow/core/framework/tensor_shape.proto, tensor_slice.proto, versions.proto). Fields not
 * declared here are skipped by the decoder, so a newer writer's additions are harmless.
 */
import { protoDecoder, type MessageType } from '../protobuf.js'

export const BUNDLE_PROTO = `
syntax = "proto3";
package tensorflow;

message VersionDef {
  int32 producer = 1;
  int32 min_consumer = 2;
  repeated int32 bad_consumers = 3;
}

message TensorShapeProto {
  message Dim {
    int64 size = 1;
    string name = 2;
  }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}

message TensorSliceProto {
  message Extent {
    int64 start = 1;
    oneof has_length { int64 length = 2; }
  }
  repeated Extent extent = 1;
}

message BundleHeaderProto {
  int32 num_shards = 1;
  enum Endianness {
    LITTLE = 0;
    BIG = 1;
  }
  Endianness endianness = 2;
  VersionDef version = 3;
}

message BundleEntryProto {
  int32 dtype = 1;
  TensorShapeProto shape = 2;
  int32 shard_id = 3;
  int64 offset = 4;
  int64 size = 5;
  fixed32 crc32c = 6;
  repeated TensorSliceProto slices = 7;
}

message TrackableObjectGraph {
  message TrackableObject {
    message ObjectReference {
      int32 node_id = 1;
      string local_name = 2;
    }
    message SerializedTensor {
      string name = 1;
      string full_name = 2;
      string checkpoint_key = 3;
      bool optional_restore = 4;
    }
    message SlotVariableReference {
      int32 original_variable_node_id = 1;
      string slot_name = 2;
      int32 slot_variable_node_id = 3;
    }
    repeated ObjectReference children = 1;
    repeated SerializedTensor attributes = 2;
    repeated SlotVariableReference slot_variables = 3;
  }
  repeated TrackableObject nodes = 1;
}
`

export type { MessageType }

export const BundleHeaderProto: MessageType = { name: 'tensorflow.BundleHeaderProto' }
export const BundleEntryProto: MessageType = { name: 'tensorflow.BundleEntryProto' }
export const TrackableObjectGraph: MessageType = { name: 'tensorflow.TrackableObjectGraph' }

/** Decoded messages as plain objects (formats/protobuf.ts). */
export const decodePlain = protoDecoder(BUNDLE_PROTO)

// Plain shapes of the decoded messages above (keepCase: field names as in the .proto).

export interface VersionDef { producer: number, min_consumer: number, bad_consumers: number[] }
export interface TensorShape { dim: Array<{ size: number, name: string }>, unknown_rank: boolean }
export interface TensorSlice { extent: Array<{ start: number, length?: number, has_length?: string }> }
export interface BundleHeader { num_shards: number, endianness: number, version: VersionDef | null }
export interface BundleEntry {
  dtype: number
  shape: TensorShape | null
  shard_id: number
  offset: number
  size: number
  crc32c: number
  slices: TensorSlice[]
}
export interface ObjectGraph {
  nodes: Array<{
    children: Array<{ node_id: number, local_name: string }>
    attributes: Array<{ name: string, full_name: string, checkpoint_key: string, optional_restore: boolean }>
    slot_variables: Array<{ original_variable_node_id: number, slot_name: string, slot_variable_node_id: number }>
  }>
}
