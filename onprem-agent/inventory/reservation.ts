/** What the DHCP server knows about one MAC, joined from SMD's EthernetInterfaces and Components. */
export interface Reservation {
  mac: string;
  /** IPv4 addresses from the interface's IPAddresses, in SMD order. */
  ips: string[];
  hostname?: string;
  xname?: string;
  nid?: number;
  type?: string;
}

/** The narrow view DHCP decisions need. */
export interface InventoryView {
  lookup(mac: string): Reservation | undefined;
}
