import { afterAll, beforeAll } from "vitest";
import { busyboxImage, buildDaemonImage, type Images, removeImages } from "./_images.ts";
import { dockerHostScenario } from "./scenarios/docker_host.ts";
import { eventsFlowScenario } from "./scenarios/events_flow.ts";
import { noCdnScenario } from "./scenarios/no_cdn.ts";
import { withCdnScenario } from "./scenarios/with_cdn.ts";

// One image build for every scenario (docker/build-image.sh: the built workspace deployed into
// node:20-bookworm-slim, or into a local base built from this machine's Node when no registry is reachable),
// removed at the end. The busybox fixture image is a base image and stays. Needs `pnpm build` first; `pnpm test:e2e`
// does it. One scenario: `npx vitest run --project e2e -t "no CDN"`.
const images: Images = { daemon: "", busybox: "" };

beforeAll(async () => {
  images.busybox = await busyboxImage();
  images.daemon = await buildDaemonImage();
});

afterAll(async () => {
  if (images.daemon) await removeImages([images.daemon]);
});

noCdnScenario(images);
withCdnScenario(images);
eventsFlowScenario(images);
dockerHostScenario(images);
