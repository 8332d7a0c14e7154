import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.js';
import {
  readDockerRegistryConnection,
  readServiceConnection,
  type EndpointReader,
} from '../../../src/platform/azure/service-connection.js';

/** The agent's endpoint variables, as task-lib would read them. */
function reader(
  endpoints: Record<string, { scheme: string; parameters: Record<string, string>; url?: string }>,
): EndpointReader {
  return {
    scheme: (id) => endpoints[id]?.scheme,
    parameter: (id, key) => endpoints[id]?.parameters[key],
    url: (id) => endpoints[id]?.url,
  };
}

describe('readServiceConnection', () => {
  it('reads a workload identity federation connection: no secret, the ids', () => {
    const read = reader({
      conn: {
        scheme: 'WorkloadIdentityFederation',
        parameters: {
          serviceprincipalid: 'app',
          tenantid: 'tenant',
          workloadIdentityFederationSubject: 'sc://o/p/conn',
        },
      },
    });
    expect(readServiceConnection('conn', read)).toEqual({
      id: 'conn',
      scheme: 'WorkloadIdentityFederation',
      clientId: 'app',
      tenantId: 'tenant',
    });
  });

  it('reads a service principal connection with its secret', () => {
    const read = reader({
      conn: {
        scheme: 'ServicePrincipal',
        parameters: { serviceprincipalid: 'app', tenantid: 'tenant', serviceprincipalkey: 'k' },
      },
    });
    expect(readServiceConnection('conn', read)).toEqual({
      id: 'conn',
      scheme: 'ServicePrincipal',
      clientId: 'app',
      tenantId: 'tenant',
      clientSecret: 'k',
    });
  });

  it("reads a managed-identity connection: the agent's identity, no client id or secret", () => {
    const read = reader({
      conn: { scheme: 'ManagedServiceIdentity', parameters: { tenantid: 'tenant' } },
    });
    expect(readServiceConnection('conn', read)).toEqual({
      id: 'conn',
      scheme: 'ManagedServiceIdentity',
      clientId: '',
      tenantId: 'tenant',
    });
  });

  const bad: [string, EndpointReader, RegExp][] = [
    [
      'missing or not authorized',
      reader({}),
      /^azureSubscription: service connection "conn" is not available to this job/,
    ],
    [
      'not an ARM connection',
      reader({ conn: { scheme: 'UsernamePassword', parameters: {} } }),
      /^azureSubscription: service connection "conn" uses the UsernamePassword scheme, which eol-gate does not support; use an Azure Resource Manager connection with workload identity federation, a service principal secret or a managed identity$/,
    ],
    [
      'a publish-profile connection',
      reader({ conn: { scheme: 'PublishProfile', parameters: {} } }),
      /uses the PublishProfile scheme, which eol-gate does not support/,
    ],
    [
      'no tenant',
      reader({
        conn: { scheme: 'WorkloadIdentityFederation', parameters: { serviceprincipalid: 'app' } },
      }),
      /^azureSubscription: service connection "conn" has no tenant id$/,
    ],
    [
      'a certificate service principal',
      reader({
        conn: {
          scheme: 'ServicePrincipal',
          parameters: {
            serviceprincipalid: 'app',
            tenantid: 't',
            authenticationType: 'spnCertificate',
          },
        },
      }),
      /has no service principal secret/,
    ],
  ];
  it.each(bad)('%s → an InputError naming the input', (_name, read, message) => {
    expect(() => readServiceConnection('conn', read)).toThrow(message);
    expect(() => readServiceConnection('conn', read)).toThrow(InputError);
  });
});

describe('readDockerRegistryConnection', () => {
  it('reads a username/password connection: the registry host from its parameter or URL', () => {
    const read = reader({
      hub: {
        scheme: 'UsernamePassword',
        parameters: { username: 'me', password: 'pw' },
        url: 'https://index.docker.io/v1/',
      },
      other: {
        scheme: 'UsernamePassword',
        parameters: { registry: 'https://Registry.Example.com:5000', username: 'u', password: 'p' },
      },
    });
    expect(readDockerRegistryConnection('hub', read)).toEqual({
      registry: 'index.docker.io',
      username: 'me',
      password: 'pw',
    });
    expect(readDockerRegistryConnection('other', read)).toEqual({
      registry: 'registry.example.com:5000',
      username: 'u',
      password: 'p',
    });
  });

  it("reads an Azure Container Registry connection's service principal as username and password", () => {
    const read = reader({
      acr: {
        scheme: 'ServicePrincipal',
        parameters: {
          loginServer: 'myacr.azurecr.io',
          serviceprincipalid: 'app',
          serviceprincipalkey: 'secret',
        },
      },
    });
    expect(readDockerRegistryConnection('acr', read)).toEqual({
      registry: 'myacr.azurecr.io',
      username: 'app',
      password: 'secret',
    });
  });

  const bad: [string, EndpointReader, RegExp][] = [
    [
      'missing',
      reader({}),
      /^dockerRegistryServiceConnection: service connection "c" is not available to this job/,
    ],
    [
      'workload identity',
      reader({ c: { scheme: 'WorkloadIdentityFederation', parameters: {} } }),
      /^dockerRegistryServiceConnection: service connection "c" uses the WorkloadIdentityFederation scheme, which eol-gate does not support here; use a username and password connection, or azureSubscription for workload identity$/,
    ],
    [
      'no password',
      reader({
        c: { scheme: 'UsernamePassword', parameters: { registry: 'r.example', username: 'u' } },
      }),
      /^dockerRegistryServiceConnection: service connection "c" has no password$/,
    ],
  ];
  it.each(bad)('%s → an InputError naming the input', (_name, read, message) => {
    expect(() => readDockerRegistryConnection('c', read)).toThrow(message);
    expect(() => readDockerRegistryConnection('c', read)).toThrow(InputError);
  });
});
