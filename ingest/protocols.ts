/** IANA protocol numbers of the names Calico, nftables and conntrack write (lower case). */
export const protocolNumbers: ReadonlyMap<string, number> = new Map([
  ['icmp', 1],
  ['igmp', 2],
  ['tcp', 6],
  ['udp', 17],
  ['dccp', 33],
  ['gre', 47],
  ['esp', 50],
  ['ah', 51],
  ['icmpv6', 58],
  ['icmp6', 58],
  ['ipv6-icmp', 58],
  ['sctp', 132],
  ['udplite', 136],
]);
