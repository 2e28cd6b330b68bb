// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGroth16Verifier} from "../../src/IGroth16Verifier.sol";

/// @notice A verifier that gives whatever answer the test set, for Settlement logic that
///         does not depend on the proof (the real verifier is tested on its own and with a
///         trapdoor key).
contract MockVerifier is IGroth16Verifier {
    bool public answer = true;

    function setAnswer(bool answer_) external {
        answer = answer_;
    }

    function verifyProof(uint256[8] calldata, uint256[6] calldata) external view returns (bool) {
        return answer;
    }

    function verifyBatch(uint256[8][] calldata, uint256[6][] calldata) external view returns (bool) {
        return answer;
    }
}
