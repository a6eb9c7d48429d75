/**
 * The protocol buffer messages of a SavedModel that mvc summarises, declared with only the fields it
 * reads (numbers and types as in tensorflow/core/protobuf/saved_model.proto, meta_graph.proto,
 * saved_object_graph.proto, fingerprint.proto, tensorflow/core/framework/graph.proto, function.proto,
 * node_def.proto, op_def.proto, and tf_keras/protobuf/saved_metadata.proto). Undeclared fields — node
 * attributes holding constants, function bodies' inputs, concrete function signatures — are skipped
 * by the decoder without being materialised, which keeps large graphs cheap to summarise.
 */
import { protoDecoder, type MessageType } from '../protobuf.js'

export const SAVED_MODEL_PROTO = `
syntax = "proto3";
package tensorflow;

message TensorShapeProto {
  message Dim {
    int64 size = 1;
    string name = 2;
  }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}

message VersionDef {
  int32 producer = 1;
  int32 min_consumer = 2;
}

message NodeDef {
  string name = 1;
  string op = 2;
}

message OpDef {
  string name = 1;
}

message FunctionDef {
  OpDef signature = 1;
  repeated NodeDef node_def = 3;
}

message FunctionDefLibrary {
  repeated FunctionDef function = 1;
}

message GraphDef {
  repeated NodeDef node = 1;
  FunctionDefLibrary library = 2;
  VersionDef versions = 4;
}

message TensorInfo {
  oneof encoding {
    string name = 1;
    bytes coo_sparse = 4;
    bytes composite_tensor = 5;
  }
  int32 dtype = 2;
  TensorShapeProto tensor_shape = 3;
}

message SignatureDef {
  map<string, TensorInfo> inputs = 1;
  map<string, TensorInfo> outputs = 2;
  string method_name = 3;
}

message AssetFileDef {
  TensorInfo tensor_info = 1;
  string filename = 2;
}

message ObjectReference {
  int32 node_id = 1;
  string local_name = 2;
}

message SavedUserObject {
  string identifier = 1;
}

message SavedAsset {
  int32 asset_file_def_index = 1;
}

message SavedFunction {
  repeated string concrete_functions = 1;
}

message SavedVariable {
  int32 dtype = 1;
  TensorShapeProto shape = 2;
  bool trainable = 3;
  string name = 6;
}

message SavedBareConcreteFunction {
  string concrete_function_name = 1;
}

message SavedConstant {
  string operation = 1;
}

message SavedResource {
  string device = 1;
}

message CapturedTensor {
  string name = 1;
  string concrete_function = 2;
}

message SavedObject {
  repeated ObjectReference children = 1;
  oneof kind {
    SavedUserObject user_object = 4;
    SavedAsset asset = 5;
    SavedFunction function = 6;
    SavedVariable variable = 7;
    SavedBareConcreteFunction bare_concrete_function = 8;
    SavedConstant constant = 9;
    SavedResource resource = 10;
    CapturedTensor captured_tensor = 12;
  }
  string registered_name = 13;
}

message SavedObjectGraph {
  repeated SavedObject nodes = 1;
}

message MetaInfoDef {
  string meta_graph_version = 1;
  repeated string tags = 4;
  string tensorflow_version = 5;
  string tensorflow_git_version = 6;
}

message MetaGraphDef {
  MetaInfoDef meta_info_def = 1;
  GraphDef graph_def = 2;
  map<string, SignatureDef> signature_def = 5;
  repeated AssetFileDef asset_file_def = 6;
  SavedObjectGraph object_graph_def = 7;
}

message SavedModel {
  int64 saved_model_schema_version = 1;
  repeated MetaGraphDef meta_graphs = 2;
}

message KerasSavedObject {
  int32 node_id = 2;
  string node_path = 3;
  string identifier = 4;
  string metadata = 5;
}

message KerasSavedMetadata {
  repeated KerasSavedObject nodes = 1;
}
`

export type { MessageType }

export const SavedModelProto: MessageType = { name: 'tensorflow.SavedModel' }
export const KerasSavedMetadataProto: MessageType = { name: 'tensorflow.KerasSavedMetadata' }

/** Decoded messages as plain objects (formats/protobuf.ts). */
export const decodePlain = protoDecoder(SAVED_MODEL_PROTO, { objects: true })

export interface TensorShape { dim: Array<{ size: number, name: string }>, unknown_rank: boolean }
export interface TensorInfo { name?: string, coo_sparse?: Uint8Array, composite_tensor?: Uint8Array, encoding?: string, dtype: number, tensor_shape: TensorShape | null }
export interface SignatureDef { inputs: Record<string, TensorInfo>, outputs: Record<string, TensorInfo>, method_name: string }
export interface NodeDef { name: string, op: string }
export interface FunctionDef { signature: { name: string } | null, node_def: NodeDef[] }
export interface SavedObject {
  children: Array<{ node_id: number, local_name: string }>
  kind?: string
  user_object?: { identifier: string }
  asset?: { asset_file_def_index: number }
  function?: { concrete_functions: string[] }
  variable?: { dtype: number, shape: TensorShape | null, trainable: boolean, name: string }
  bare_concrete_function?: { concrete_function_name: string }
  constant?: { operation: string }
  resource?: { device: string }
  captured_tensor?: { name: string, concrete_function: string }
  registered_name: string
}
export interface MetaGraphDef {
  meta_info_def: { meta_graph_version: string, tags: string[], tensorflow_version: string, tensorflow_git_version: string } | null
  graph_def: { node: NodeDef[], library: { function: FunctionDef[] } | null, versions: { producer: number, min_consumer: number } | null } | null
  signature_def: Record<string, SignatureDef>
  asset_file_def: Array<{ filename: string }>
  object_graph_def: { nodes: SavedObject[] } | null
}
export interface SavedModel { saved_model_schema_version: number, meta_graphs: MetaGraphDef[] }
export interface KerasSavedMetadata { nodes: Array<{ node_id: number, node_path: string, identifier: string, metadata: string }> }
