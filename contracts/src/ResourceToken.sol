// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Burnable} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Burnable.sol";

/// @title ResourceToken
/// @notice zkmeter's resource tokens: one ERC-1155 id per resource class, 0 gpu, 1 cpu,
///         2 storage, 3 network, 4 energy (the classes of the meter statement). Consumers
///         hold them (bought or traded) and escrow them in jobs; settlement burns escrowed
///         tokens and mints the provider's. Every mint, burn and transfer is an ERC-1155
///         event, so balances and their history are auditable from the chain alone.
/// @dev MINTER_ROLE mints (the settlement contract, and whoever issues tokens to
///      consumers); any holder burns its own tokens (ERC1155Burnable). A minter can do
///      both in one call (`burnAndMintBatch`), which is how a settlement pays a provider
///      out of escrow. The admin (DEFAULT_ADMIN_ROLE) grants roles and sets the metadata.
contract ResourceToken is ERC1155, ERC1155Burnable, AccessControl {
    /// @notice The role allowed to mint.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Number of resource classes; valid ids are 0 .. CLASSES - 1.
    uint256 public constant CLASSES = 5;

    /// @notice What one token of a class stands for.
    struct ClassInfo {
        /// Human-readable name, e.g. "GPU time".
        string name;
        /// The quantity one token (one base unit: ERC-1155 has no decimals) stands for,
        /// e.g. "GPU-ms".
        string unit;
    }

    ClassInfo[CLASSES] private _classes;

    /// @notice The metadata of class `id` is now (`name`, `unit`).
    event ClassInfoSet(uint256 indexed id, string name, string unit);

    /// @notice `id` is not a resource class.
    error UnknownClass(uint256 id);
    /// @notice The admin is the zero address.
    error ZeroAdmin();

    /// @notice Deploys the token with the default metadata: one token of each class is one
    ///         base unit of the meter statement (GPU-ms, core-ms, byte-s, bytes, mJ).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants MINTER_ROLE, sets metadata).
    /// @param uri_ The ERC-1155 metadata URI template ({id} substitution, may be empty).
    constructor(address admin, string memory uri_) ERC1155(uri_) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setClassInfo(0, "GPU time", "GPU-ms");
        _setClassInfo(1, "CPU time", "core-ms");
        _setClassInfo(2, "Storage", "byte-s");
        _setClassInfo(3, "Network transfer", "bytes");
        _setClassInfo(4, "Energy", "mJ");
    }

    /// @notice The metadata of class `id`.
    /// @param id A resource class (0 .. CLASSES - 1).
    /// @return name Its human-readable name.
    /// @return unit What one token of it stands for.
    function classInfo(uint256 id) external view returns (string memory name, string memory unit) {
        if (id >= CLASSES) revert UnknownClass(id);
        ClassInfo storage info = _classes[id];
        return (info.name, info.unit);
    }

    /// @notice Sets the metadata of class `id`. Admin only.
    /// @param id A resource class.
    /// @param name Human-readable name.
    /// @param unit What one token stands for.
    function setClassInfo(uint256 id, string calldata name, string calldata unit)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setClassInfo(id, name, unit);
    }

    /// @notice Sets the ERC-1155 metadata URI template. Admin only.
    /// @param newUri The new template.
    function setURI(string calldata newUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setURI(newUri);
    }

    /// @notice Mints `amount` tokens of class `id` to `to`. MINTER_ROLE only.
    /// @param to Recipient; a contract must accept ERC-1155 tokens.
    /// @param id A resource class.
    /// @param amount Tokens to mint.
    /// @param data Passed to the recipient's acceptance hook.
    function mint(address to, uint256 id, uint256 amount, bytes calldata data) external onlyRole(MINTER_ROLE) {
        if (id >= CLASSES) revert UnknownClass(id);
        _mint(to, id, amount, data);
    }

    /// @notice Mints `amounts[i]` tokens of class `ids[i]` to `to`. MINTER_ROLE only.
    /// @param to Recipient; a contract must accept ERC-1155 tokens.
    /// @param ids Resource classes.
    /// @param amounts Tokens to mint, one per id.
    /// @param data Passed to the recipient's acceptance hook.
    function mintBatch(address to, uint256[] calldata ids, uint256[] calldata amounts, bytes calldata data)
        external
        onlyRole(MINTER_ROLE)
    {
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] >= CLASSES) revert UnknownClass(ids[i]);
        }
        _mintBatch(to, ids, amounts, data);
    }

    /// @notice Burns `burnAmounts[i]` of the caller's own tokens of class `ids[i]` and mints
    ///         `mintAmounts[i]` of it to `to`: a settlement paying a provider out of the
    ///         escrow it holds (what is burned and not minted is the protocol fee). One
    ///         call instead of `burnBatch` and `mintBatch`; the same two ERC-1155 events
    ///         (burn from the caller, mint to `to`). MINTER_ROLE only.
    /// @param to Recipient of the minted tokens; a contract must accept ERC-1155 tokens.
    /// @param ids Resource classes.
    /// @param burnAmounts Tokens of each class to burn from the caller, one per id.
    /// @param mintAmounts Tokens of each class to mint to `to`, one per id.
    function burnAndMintBatch(
        address to,
        uint256[] calldata ids,
        uint256[] calldata burnAmounts,
        uint256[] calldata mintAmounts
    ) external onlyRole(MINTER_ROLE) {
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] >= CLASSES) revert UnknownClass(ids[i]);
        }
        _burnBatch(msg.sender, ids, burnAmounts);
        _mintBatch(to, ids, mintAmounts, "");
    }

    /// @notice ERC-165: ERC-1155, its metadata extension and AccessControl.
    /// @param interfaceId The interface asked about.
    /// @return True iff this contract implements it.
    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    function _setClassInfo(uint256 id, string memory name, string memory unit) private {
        if (id >= CLASSES) revert UnknownClass(id);
        _classes[id] = ClassInfo(name, unit);
        emit ClassInfoSet(id, name, unit);
    }
}
