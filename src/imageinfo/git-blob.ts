import { createHash } from 'node:crypto';

/** Git's object id of a blob (`sha1("blob <size>\0" + bytes)`): GitHub's `sha`, Azure Repos' `objectId`. */
export function gitBlobId(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}
