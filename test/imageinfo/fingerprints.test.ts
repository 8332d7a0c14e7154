import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/core/errors.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { serveOnLoopback } from '../support/loopback.js';
import { NO_RETRY } from '../support/doubles.js';

const TEXT = '{"v":2}\n';
const OLD = '{"v":1}\n';

/**
 * DESIGN §2 step 5 trusts "same fingerprint, same content". Every source's fingerprint is a hash
 * of exactly the bytes it returns: a server that pairs new content with an old id (a stale
 * cache, a lagging replica) is an error, never a snapshot with the wrong fingerprint.
 */
describe('fingerprints are hashes of the content read', () => {
  let server: Awaited<ReturnType<typeof serveOnLoopback>>;
  /** What the fake answers: content and the id it claims for it. */
  let claimedId = gitBlobId(TEXT);
  let blob = TEXT;

  beforeAll(async () => {
    server = await serveOnLoopback(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (body: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return true;
      };
      if (url.pathname.endsWith('/contents/image-info.json'))
        return json({
          type: 'file',
          sha: claimedId,
          encoding: 'base64',
          content: Buffer.from(TEXT).toString('base64'),
          size: TEXT.length,
        });
      if (url.pathname.endsWith('/git/ref/heads/main'))
        return json({ ref: 'refs/heads/main', object: { type: 'commit', sha: 'c'.repeat(40) } });
      if (url.pathname.endsWith('/refs'))
        return json({ value: [{ name: 'refs/heads/main', objectId: 'c'.repeat(40) }] });
      if (url.pathname.endsWith('/items'))
        return json({ objectId: claimedId, gitObjectType: 'blob', content: TEXT });
      if (url.pathname.includes('/blobs/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(blob);
        return true;
      }
      return false;
    });
  });
  afterAll(() => server.close());

  const github = () =>
    new GitHubContentsSource(
      { owner: 'o', repo: 'r', path: 'image-info.json', branch: 'main' },
      { apiUrl: server.origin, retry: NO_RETRY },
    );
  const azure = () =>
    new AzureReposSource(
      { project: 'p', repo: 'r', path: 'image-info.json', branch: 'main' },
      { collectionUri: `${server.origin}/org/`, retry: NO_RETRY },
    );

  it('GitHub: the blob sha of the content, and an error when the sha is not the content', async () => {
    claimedId = gitBlobId(TEXT);
    expect(await github().read()).toEqual({ text: TEXT, fingerprint: gitBlobId(TEXT) });
    claimedId = gitBlobId(OLD);
    await expect(github().read()).rejects.toBeInstanceOf(RuntimeError);
  });

  it('Azure Repos: the blob id of the content, and an error when neither content nor blob matches it', async () => {
    claimedId = gitBlobId(TEXT);
    expect(await azure().read()).toEqual({ text: TEXT, fingerprint: gitBlobId(TEXT) });
    // Inline content does not hash to the id: the exact blob is fetched and must hash to it.
    claimedId = gitBlobId(OLD);
    blob = OLD;
    expect(await azure().read()).toEqual({ text: OLD, fingerprint: gitBlobId(OLD) });
    blob = TEXT;
    await expect(azure().read()).rejects.toBeInstanceOf(RuntimeError);
  });
});
