/**
 * An S3-compatible server on loopback for tests: `s3rver` (runs under Bun) on an ephemeral port,
 * a temp directory, one pre-created bucket.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export interface TestS3 {
  /** `http://127.0.0.1:<port>`; use path-style addressing. */
  endpoint: string;
  bucket: string;
  region: string;
  /** s3rver's built-in account. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Environment for `loadConfig` that points the service at this server. */
  env: Record<string, string>;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver with a fresh bucket.
 *
 * @example
 * const s3 = await startS3();
 * const store = createS3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, presignTtlSeconds: 60, credentials: s3.credentials });
 * await s3.stop();
 */
export async function startS3(bucket = "test-images"): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    bucket,
    region: "us-east-1",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    env: { S3_BUCKET: bucket, S3_ENDPOINT: endpoint, S3_REGION: "us-east-1", S3_FORCE_PATH_STYLE: "true" },
    stop: () =>
      (stopped ??= (async () => {
        await server.close();
        await rm(directory, { recursive: true, force: true });
      })()),
  };
}
