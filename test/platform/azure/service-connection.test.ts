import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.js';
import {
  readServiceConnection,
  type EndpointReader,
} from '../../../src/platform/azure/service-connection.js';

/** The agent's endpoint variables, as task-lib would read them. */
function reader(
  endpoints: Record<string, { scheme: string; parameters: Record<string, string> }>,
): EndpointReader {
  return {
    scheme: (id) => endpoints[id]?.scheme,
    parameter: (id, key) => endpoints[id]?.parameters[key],
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

  const bad: [string, EndpointReader, RegExp][] = [
    [
      'missing or not authorized',
      reader({}),
      /^azureSubscription: service connection "conn" is not available to this job/,
    ],
    [
      'not an ARM connection',
      reader({ conn: { scheme: 'UsernamePassword', parameters: {} } }),
      /^azureSubscription: service connection "conn" uses UsernamePassword; expected an Azure Resource Manager connection/,
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
