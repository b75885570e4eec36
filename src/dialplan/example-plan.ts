/**
 * An Inera-style example plan (Swedish regions behind one national node), used by the tests,
 * the benchmark and as a starting point for operators: `knude plan import` of this text gives
 * a working plan to try `knude route` against.
 */
export const EXAMPLE_PLAN_YAML = `# Inera-style national video plan (example)
version: 1
settings:
  ownDomains: [video.inera.se]
  countryCode: '46'
  nationalPrefix: '0'
  internationalPrefix: '00'
  nationalNumberLengths: []
  gateway:
    - { host: gw1.inera.se, port: 5061, transport: tls, priority: 10 }
organisations:
  - name: inera
    displayName: Inera AB
    blocks: ['+4610']
    domains: [video.inera.se]
  - name: region-stockholm
    displayName: Region Stockholm
    blocks: ['+468']
    domains: [sll.se]
  - name: region-skane
    displayName: Region Skåne
    blocks: ['+4640', '+4642']
    domains: [skane.se]
  - name: vgregion
    displayName: Västra Götalandsregionen
    blocks: ['+4631']
    domains: [vgregion.se]
zones:
  - name: sll
    org: region-stockholm
    targets:
      - { host: sbc1.sll.se, port: 5061, transport: tls, priority: 10 }
      - { host: sbc2.sll.se, port: 5061, transport: tls, priority: 20 }
    credentials: { username: knude-national, password: s3cret }
  - name: skane
    org: region-skane
    prefixes: ['+4640']
    targets:
      - { host: 10.40.0.11, port: 5060, transport: tcp, priority: 10 }
      - { host: 10.40.0.12, port: 5060, transport: tcp, priority: 10 }
aliases:
  - { alias: '+4610100100', kind: room, target: national-meeting, org: inera }
  - { alias: meet@video.inera.se, kind: room, target: national-meeting, org: inera }
  - { alias: support@video.inera.se, kind: account, target: support@video.inera.se, org: inera, public: true }
  - { alias: '+4610100200', kind: account, target: operator@video.inera.se, org: inera }
  - { alias: '+4631100200', kind: account, target: anna@vgregion.se, org: vgregion }
  - { alias: anna@vgregion.se, kind: account, target: anna@vgregion.se, org: vgregion }
  - { alias: '+4631100300', kind: room, target: vgr-akut, org: vgregion }
  - { alias: reception@vgregion.se, kind: account, target: reception@vgregion.se, org: vgregion, public: true }
  - { alias: '+4681234500', kind: zone, target: sll, org: region-stockholm }
  - { alias: '+4640123456', kind: account, target: lund-ward7@skane.se, org: region-skane }
transforms:
  - { priority: 10, match: '^9(\\d+)$', replace: '+46$1', description: 9 + national number (PBX habit) }
  - { priority: 20, match: '^(\\d{4})$', replace: '+463110$1', stop: true, description: 4-digit VGR extensions }
policy:
  blocked:
    - { from: region-skane, to: vgregion, reason: interconnect agreement pending }
`;
