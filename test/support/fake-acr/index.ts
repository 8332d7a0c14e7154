export {
  FakeAcr,
  startFakeAcr,
  sha256,
  type Fault,
  type FaultKind,
  type FakeAcrOptions,
  type RequestKind,
  BASIC_BUDGETS,
  type BudgetClass,
  type BudgetThrottle,
} from './server.js';
export { testCertificate, type TestCertificate } from './cert.js';
export {
  seedArtifact,
  seedImage,
  seedIndex,
  OCI_INDEX,
  OCI_MANIFEST,
  DOCKER_MANIFEST,
} from './seed.js';
