import { AzureDevOpsStore } from '../../src/coordination/azure-devops.js';
import { GitHubStore } from '../../src/coordination/github.js';
import type { CoordinationStore, ParticipantIdentity } from '../../src/coordination/port.js';
import { LIFECYCLE_ARTIFACT_TYPE } from '../../src/core/lifecycle.js';
import type { Descriptor } from '../../src/core/oci.js';
import { silentLogger } from '../../src/core/ports.js';
import { OciRegistry } from '../../src/registry/oci/index.js';
import type { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import type { FakeGitHub } from '../support/fake-github.js';
import { pushImage, pushIndex } from '../support/seed.js';
import { ScaledClock } from './clocks.js';
import { between, rng } from '../support/rng.js';
import type { Backend } from './schedule.js';

/** Fast retries: the fakes answer in milliseconds; waits still come from the servers' headers. */
const RETRY = { retries: 6, baseDelayMs: 5, maxDelayMs: 100, timeoutMs: 10_000 };

/**
 * The real stores over HTTP against the fake Azure DevOps or fake GitHub, and OciRegistry
 * against a real docker-registry, on a scaled clock (1 simulated second = 10 real ms).
 */
export class RealBackend implements Backend {
  readonly name: string;
  readonly clock: ScaledClock;
  readonly registry: OciRegistry;
  readonly repoPrefix: string;
  private readonly attempts = new Map<string, number>();
  /** The simulator's job ids → the CI system's. */
  private readonly jobIds = new Map<string, string>();
  private readonly latencyRng: () => number;

  constructor(
    private readonly ci:
      { kind: 'azure-devops'; fake: FakeAzureDevOps } | { kind: 'github'; fake: FakeGitHub },
    registryUrl: string,
    seed: number,
    prefix: string,
    scale = 0.01,
  ) {
    this.name = `${ci.kind}+docker-registry`;
    this.clock = new ScaledClock(scale, rng(seed * 16807 + 5));
    this.latencyRng = rng(seed * 48271 + 3);
    this.registry = new OciRegistry({ url: registryUrl, retry: RETRY, logger: silentLogger });
    this.repoPrefix = prefix;
  }

  pushImage(repository: string, seed: string, tag?: string): Promise<Descriptor> {
    return pushImage(this.registry, repository, { seed, tag });
  }

  pushIndex(repository: string, children: Descriptor[], tag?: string): Promise<Descriptor> {
    return pushIndex(this.registry, repository, children, tag);
  }

  lifecycleReferrers(repository: string, subject: string): Promise<Descriptor[]> {
    return this.registry.listReferrers(repository, subject, LIFECYCLE_ARTIFACT_TYPE);
  }

  async newRun(pipeline: string): Promise<string> {
    const id =
      this.ci.kind === 'azure-devops'
        ? this.ci.fake.createBuild({ status: 'notStarted', definitionName: pipeline }).id
        : this.ci.fake.createRun({ status: 'queued', name: pipeline }).id;
    this.attempts.set(String(id), 0);
    return String(id);
  }

  async startAttempt(runId: string): Promise<number> {
    const n = this.attempts.get(runId)! + 1;
    this.attempts.set(runId, n);
    if (this.ci.kind === 'azure-devops') {
      // A retried stage: same build, back in progress, tags kept.
      this.ci.fake.setStatus(Number(runId), 'inProgress');
    } else {
      const run = n === 1 ? this.ci.fake.run(Number(runId)) : this.ci.fake.rerun(Number(runId));
      run.status = 'in_progress';
    }
    return n;
  }

  async endAttempt(runId: string): Promise<void> {
    if (this.ci.kind === 'azure-devops') this.ci.fake.setStatus(Number(runId), 'completed');
    else this.ci.fake.complete(Number(runId));
  }

  /**
   * The CI system's job for one attempt: a workflow job (GitHub: its check run id is the job
   * id) or a timeline record (Azure DevOps: a GUID, as System.JobId). Ids are assigned here and
   * mapped to the simulator's.
   */
  async startJob(who: ParticipantIdentity): Promise<void> {
    if (this.ci.kind === 'azure-devops') {
      const job = this.ci.fake.addJob(Number(who.runId), { name: `job ${who.jobId}` });
      this.jobIds.set(who.jobId!, job.id);
    } else {
      const job = this.ci.fake.createJob({ run_id: Number(who.runId), name: `job ${who.jobId}` });
      this.jobIds.set(who.jobId!, String(job.id));
    }
  }

  async endJob(who: ParticipantIdentity, conclusion: 'success' | 'cancelled'): Promise<void> {
    const id = this.jobIds.get(who.jobId!)!;
    if (this.ci.kind === 'azure-devops')
      this.ci.fake.completeJob(
        Number(who.runId),
        id,
        conclusion === 'success' ? 'succeeded' : 'canceled',
      );
    else this.ci.fake.completeJob(Number(id), conclusion);
  }

  store(who: ParticipantIdentity): CoordinationStore {
    const { runId, attempt } = who;
    const jobId = this.jobIds.get(who.jobId!);
    const readBack = { attempts: 20, delayMs: 5 };
    if (this.ci.kind === 'azure-devops') {
      const f = this.ci.fake;
      return new AzureDevOpsStore({
        collectionUri: f.collectionUri,
        project: 'proj',
        buildId: runId,
        jobAttempt: attempt,
        jobId,
        token: f.token,
        retry: RETRY,
        readBack,
      });
    }
    const f = this.ci.fake;
    return new GitHubStore({
      apiUrl: f.apiUrl,
      owner: f.owner,
      repo: f.repo,
      runId,
      runAttempt: attempt,
      jobId,
      sha: f.headSha,
      token: f.token,
      retry: RETRY,
      readBack,
      secondaryRateLimitWaitMs: 50,
    });
  }

  sourceLatency(): number {
    return between(this.latencyRng, 20, 400);
  }
}
