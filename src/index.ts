/**
 * mvc — Git-style, content-addressed version control for TensorFlow models.
 *
 * Glossary:
 * - repository: a folder holding `.mvc/` (LevelDB index + pack files).
 * - version: a commit, numbered v1, v2, … in commit order.
 * - manifest: the object listing every file of a committed path.
 * - CID: content identifier (CIDv1, sha2-256; raw chunks or dag-cbor objects).
 */
export * from './api/index.js'
