import { kafkaService } from './kafka/service.js';
import { kubernetesService } from './kubernetes/service.js';
import { motoService } from './moto/service.js';
import { openSearchService } from './opensearch/service.js';
import type { ServiceDefinition } from './service.js';

/** Every service the tests may need, in the order they are installed. */
export const allServices: readonly ServiceDefinition[] = [kafkaService, openSearchService, motoService, kubernetesService];

export function servicesNamed(names: readonly string[]): ServiceDefinition[] {
  if (names.length === 0) return [...allServices];
  return names.map((name) => {
    const found = allServices.find((service) => service.name === name);
    if (!found) {
      throw new Error(`unknown service '${name}'; known: ${allServices.map((service) => service.name).join(', ')}`);
    }
    return found;
  });
}

/** The environment that points clients at the given services. */
export function serviceEnv(services: readonly ServiceDefinition[]): Record<string, string> {
  return Object.assign({}, ...services.map((service) => service.env)) as Record<string, string>;
}

/** The services to start for a test run: those none of whose endpoint variables is set. */
export function servicesMissingFrom(env: NodeJS.ProcessEnv, services: readonly ServiceDefinition[] = allServices): ServiceDefinition[] {
  return services.filter((service) => Object.keys(service.env).every((key) => !env[key]));
}
