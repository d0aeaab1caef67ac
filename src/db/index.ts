export { openDatabase, openPglite, wrapPglite } from "./client.ts";
export type { Database, DatabaseKind, Db, NeonSocketOptions, OpenDatabaseOptions } from "./client.ts";
export { migrateDatabase, MIGRATIONS_FOLDER } from "./migrate.ts";
export { DataDirLockedError, LOCK_FILE, lockDataDir, readLockHolder, type DataDirLock, type LockHolder } from "./lock.ts";
export { maintain, startMaintenance } from "./maintenance.ts";
export type { MaintenanceReport } from "./maintenance.ts";
export { DatabaseQueryError, DatabaseUnavailableError, InvalidCursorError, isConnectionError, toDatabaseError } from "./errors.ts";
export { isUuid, newId } from "./ids.ts";
export { decodeCursor, encodeCursor } from "./cursor.ts";
export {
  bulkInsertImages,
  deleteImage,
  DuplicateImageError,
  findImageBySha256,
  getEmbedding,
  getImage,
  getImagesByIds,
  insertImageWithEmbeddings,
} from "./images.ts";
export { listCategories, listImages } from "./images.ts";
export { countImagesMissing, imagesMissing, setHypernyms } from "./images.ts";
export type { BulkImage, CategoryCount, EmbeddingInput, IdPage, ListImagesOptions, Missing, Page, StoredEmbedding } from "./images.ts";
export { candidateFilters, exactVectorCandidates, fulltextCandidates, vectorCandidates } from "./search.ts";
export { vocabularySnapshot } from "./vocabulary.ts";
export type { CandidateFilters, CandidateImage, FulltextCandidate, FulltextQuery, VectorCandidate, VectorQuery } from "./search.ts";
export { getGeneration, insertGeneration, listGenerations, updateGeneration } from "./generations.ts";
export type { GenerationPatch } from "./generations.ts";
export * from "./schema.ts";
